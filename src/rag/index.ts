export { RagModule } from './rag.module';
