export { analyze, termFrequencies, isCjkTerm, DEFAULT_ANALYZER_OPTIONS, MAX_TERM_LENGTH } from './analyzer';
export type { AnalyzerOptions } from './analyzer';
