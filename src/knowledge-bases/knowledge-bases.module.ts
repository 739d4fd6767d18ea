import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database';
import { TenantsModule } from '../tenants';
import { KnowledgeBaseEvents } from './knowledge-base.events';
import { KnowledgeBasesController } from './knowledge-bases.controller';
import { KnowledgeBasesRepository } from './knowledge-bases.repository';
import { KnowledgeBasesService } from './knowledge-bases.service';

@Module({
  imports: [DatabaseModule, TenantsModule],
  controllers: [KnowledgeBasesController],
  providers: [KnowledgeBasesRepository, KnowledgeBasesService, KnowledgeBaseEvents],
  exports: [KnowledgeBasesRepository, KnowledgeBasesService, KnowledgeBaseEvents],
})
export class KnowledgeBasesModule {}
