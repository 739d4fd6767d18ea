import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database';
import { EmbeddingsModule } from '../embeddings';
import { KnowledgeBasesModule } from '../knowledge-bases';
import { LexicalIndexModule } from '../lexical-index';
import { VectorStoreModule } from '../vector-store';
import { ChunkLookupRepository } from './chunk-lookup.repository';
import { RerankModule } from './rerank.module';
import { DenseRetriever, SparseRetriever } from './retrievers';
import { RetrievalController } from './retrieval.controller';
import { RetrievalService } from './retrieval.service';

@Module({
  imports: [DatabaseModule, KnowledgeBasesModule, EmbeddingsModule, VectorStoreModule, LexicalIndexModule, RerankModule],
  controllers: [RetrievalController],
  providers: [RetrievalService, DenseRetriever, SparseRetriever, ChunkLookupRepository],
  exports: [RetrievalService],
})
export class RetrievalModule {}
