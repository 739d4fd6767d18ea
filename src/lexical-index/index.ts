export { LexicalIndexModule } from './lexical-index.module';
export { LexicalIndex, type LexicalHit, type LexicalRecord } from './lexical-index.port';
