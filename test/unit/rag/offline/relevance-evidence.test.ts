import { describe, expect, it } from 'vitest';
import { relevanceEvidence } from '../../../../src/rag/offline/relevance-evidence';
import { isRelevant, relevanceProbability } from '../../../../src/rag/offline/relevance-model';
import type { Passage } from '../../../../src/rag/reasoner';

const passage = (n: number, title: string, text: string, denseScore: number, sparseScore: number | null): Passage => ({
  n,
  chunkId: `c${n}`,
  documentId: `d${n}`,
  kbId: 'kb',
  text,
  title,
  score: 1 / n,
  signals: { denseScore, sparseScore },
});

describe('offline relevance evidence and grade', () => {
  // an unanswerable question: the park it names is in no passage, only its generic words are
  const question = '乍都节公园位于什么地方？';
  const park = passage(1, '乍都节公园', '乍都节公园位于泰国曼谷北部的乍都节区，是曼谷的大型公园之一。', 0.3, 6);
  const church = passage(2, '四泉圣嘉禄堂', '地下室位于教堂下面，有一个低矮的拱顶。这个地方很安静。', 0.2, 2);

  it('sees the name a passage lacks as a long run of missing pairs, and the one that holds it as covering them', () => {
    const [withName, without] = relevanceEvidence(question, [park, church]);
    expect(withName.pairCoverage).toBeGreaterThan(0.8);
    expect(withName.missingRun).toBeLessThan(0.2);
    expect(without.missingRun).toBeGreaterThan(0.3);
    expect(without.pairCoverage).toBeLessThan(0.5);
    expect(withName.pairCoverageLead).toBeGreaterThan(0.5);
    expect(withName.sparseRelative).toBe(1);
    expect(without.sparseRelative).toBeCloseTo(2 / 6);
    expect(withName.sparseScore).toBeCloseTo(6 / 16);
    expect(withName.bothRetrievers).toBe(1);
  });

  it('grades the passage that holds the question relevant and the one that only shares its generic words not', () => {
    const [withName, without] = relevanceEvidence(question, [park, church]);
    expect(isRelevant(relevanceProbability(withName), question)).toBe(true);
    // alone, the wrong passage is the best there is: it must still fail
    const [alone] = relevanceEvidence(question, [{ ...church, n: 1 }]);
    expect(isRelevant(relevanceProbability(alone), question)).toBe(false);
    expect(relevanceProbability(without)).toBeLessThan(relevanceProbability(withName));
  });
});
