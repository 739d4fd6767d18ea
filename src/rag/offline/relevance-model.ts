import { RELEVANCE_CALIBRATION } from './relevance-calibration';
import { isChinese } from '../lexical-overlap';
import { EVIDENCE_FEATURES, type RelevanceEvidence } from './relevance-evidence';

/**
 * ISREL of the offline answerer: a logistic model over a passage's evidence, fitted on labelled
 * retrievals (`relevance-calibration.ts`, written by `npm run eval:rag:calibrate`). A passage is
 * relevant when its probability reaches the calibrated threshold; a question none of whose passages
 * does is refused.
 */
export interface LogisticModel {
  weights: Record<(typeof EVIDENCE_FEATURES)[number], number>;
  bias: number;
  /** per script of the question: Han pairs are characters, others words, so their evidence differs in scale */
  thresholds: Record<QuestionScript, number>;
}

export type QuestionScript = 'han' | 'other';

export function questionScript(query: string): QuestionScript {
  return isChinese(query) ? 'han' : 'other';
}

export function relevanceProbability(evidence: RelevanceEvidence, model: LogisticModel = RELEVANCE_CALIBRATION): number {
  let z = model.bias;
  for (const feature of EVIDENCE_FEATURES) z += model.weights[feature] * evidence[feature];
  return 1 / (1 + Math.exp(-z));
}

export function isRelevant(probability: number, query: string, model: LogisticModel = RELEVANCE_CALIBRATION): boolean {
  return probability >= model.thresholds[questionScript(query)];
}
