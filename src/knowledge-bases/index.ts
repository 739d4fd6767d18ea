export { KnowledgeBasesModule } from './knowledge-bases.module';
export { KnowledgeBasesService } from './knowledge-bases.service';
export { KnowledgeBasesRepository } from './knowledge-bases.repository';
export { KnowledgeBaseEvents } from './knowledge-base.events';
