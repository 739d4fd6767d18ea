import type { LogisticModel } from './relevance-model';

/**
 * Written by `npm run eval:rag:calibrate -- cmrc2018-trial:test scifact:train --check scifact:test --write`:
 * fitted on cmrc2018-trial:test and scifact:train; do not edit by hand, calibrate again.
 */
export const RELEVANCE_CALIBRATION: LogisticModel = {
  "weights": {
    "coverage": 1.6124,
    "plainCoverage": -0.2877,
    "sentenceCoverage": 1.7291,
    "sentencePairCoverage": 1.0743,
    "pairCoverage": 1.9471,
    "missingRun": -0.5853,
    "pairCoverageLead": 0.8001,
    "titleCoverage": 2.7754,
    "denseScore": 0.7035,
    "denseRelative": 0.1611,
    "sparseRelative": -0.4232,
    "bothRetrievers": 0.425,
    "reciprocalRank": 1.9861
  },
  "bias": -4.9232,
  "thresholds": {
    "han": 0.35,
    "other": 0.07
  }
};
