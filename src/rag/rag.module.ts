import { Module } from '@nestjs/common';
import { LlmModule } from '../llm';
import { RetrievalModule } from '../retrieval';
import { RagController } from './rag.controller';
import { RagService } from './rag.service';

@Module({
  imports: [RetrievalModule, LlmModule],
  controllers: [RagController],
  providers: [RagService],
})
export class RagModule {}
