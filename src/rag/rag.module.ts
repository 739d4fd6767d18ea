import { Module } from '@nestjs/common';
import { RetrievalModule } from '../retrieval/retrieval.module';
import { RagController } from './rag.controller';
import { RagService } from './rag.service';

@Module({
  imports: [RetrievalModule],
  controllers: [RagController],
  providers: [RagService],
})
export class RagModule {}
