import { Module } from '@nestjs/common';
import { EmbeddingsModule } from '../embeddings/embeddings.module';
import { KnowledgeBasesModule } from '../knowledge-bases/knowledge-bases.module';
import { LexicalIndexModule } from '../lexical-index/lexical-index.module';
import { VectorStoreModule } from '../vector-store/vector-store.module';
import { ChunkLookupRepository } from './chunk-lookup.repository';
import { RerankModule } from './rerank.module';
import { DenseRetriever, SparseRetriever } from './retrievers';
import { RetrievalController } from './retrieval.controller';
import { RetrievalService } from './retrieval.service';

@Module({
  imports: [KnowledgeBasesModule, EmbeddingsModule, VectorStoreModule, LexicalIndexModule, RerankModule],
  controllers: [RetrievalController],
  providers: [RetrievalService, DenseRetriever, SparseRetriever, ChunkLookupRepository],
  exports: [RetrievalService],
})
export class RetrievalModule {}
