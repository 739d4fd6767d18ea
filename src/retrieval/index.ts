export { RetrievalModule } from './retrieval.module';
export { RetrievalService } from './retrieval.service';
export { MAX_TOP_K, QueryTargetDto } from './retrieval.dto';
