import { Module } from '@nestjs/common';
import { ChunkingModule } from '../ingestion/chunking/chunking.module';
import { RetrievalModule } from '../retrieval/retrieval.module';
import { RagController } from './rag.controller';
import { RagService } from './rag.service';

@Module({
  imports: [RetrievalModule, ChunkingModule],
  controllers: [RagController],
  providers: [RagService],
})
export class RagModule {}
