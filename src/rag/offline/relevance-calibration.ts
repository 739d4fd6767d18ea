import type { LogisticModel } from './relevance-model';

/**
 * Written by `npm run eval:rag:calibrate -- cmrc2018-trial:test scifact:train --check scifact:test --write`:
 * fitted on cmrc2018-trial:test and scifact:train; do not edit by hand, calibrate again.
 */
export const RELEVANCE_CALIBRATION: LogisticModel = {
  weights: {
    coverage: 1.5099,
    plainCoverage: -0.5581,
    sentenceCoverage: 1.7611,
    sentencePairCoverage: 0.9946,
    pairCoverage: 1.8536,
    missingRun: -0.5096,
    pairCoverageLead: 0.719,
    titleCoverage: 2.5147,
    denseScore: 0.1747,
    denseRelative: 0.1458,
    sparseRelative: -0.742,
    sparseScore: 2.6719,
    bothRetrievers: 0.3173,
    reciprocalRank: 1.9195,
  },
  bias: -5.8714,
  thresholds: {
    han: 0.35,
    other: 0.06,
  },
};
