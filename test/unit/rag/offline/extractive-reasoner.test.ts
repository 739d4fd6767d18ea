import { describe, expect, it } from 'vitest';
import { ExtractiveReasoner } from '../../../../src/rag/offline/extractive-reasoner';
import type { Passage, RagRun } from '../../../../src/rag/reasoner';

const passage = (n: number, text: string, score = 1): Passage => ({
  n,
  chunkId: `c${n}`,
  documentId: `d${n}`,
  kbId: 'kb',
  text,
  title: null,
  score,
});
const newRun = (): RagRun & { deltas: string[] } => {
  const deltas: string[] = [];
  return { signal: new AbortController().signal, usage: { inputTokens: 0, outputTokens: 0 }, onDelta: (t) => deltas.push(t), deltas };
};

const KEYS = passage(1, 'API keys are stored hashed with SHA-256. They are shown only once. The office has a coffee machine.');
const BACKUPS = passage(2, 'The database is backed up every night. Backups are kept for thirty days.');
const PLANTS = passage(3, 'Photosynthesis converts light energy into chemical energy.');

describe('ExtractiveReasoner', () => {
  const reasoner = new ExtractiveReasoner();

  it('answers with the sentence that covers the question, cited, and nothing unrelated', async () => {
    const run = newRun();
    const generation = await reasoner.generate('How are API keys stored?', [KEYS, BACKUPS], run);
    expect(generation.answered).toBe(true);
    expect(generation.answer).toContain('API keys are stored hashed with SHA-256. [1]');
    expect(generation.answer).not.toContain('coffee');
    expect(generation.answer).not.toContain('[2]');
    expect(generation.used.map((p) => p.chunkId)).toEqual(['c1']);
    expect(run.deltas.join('')).toBe(generation.answer);
    expect(run.usage.inputTokens).toBeGreaterThan(0);
    expect(run.usage.outputTokens).toBeGreaterThan(0);
  });

  it('says plainly when no passage supports an answer', async () => {
    const generation = await reasoner.generate('What is the capital of Peru?', [KEYS, PLANTS], newRun());
    expect(generation.answered).toBe(false);
    expect(generation.used).toEqual([]);
    expect(generation.answer).toMatch(/do not contain an answer/);
    expect(await reasoner.gradeSupport('What is the capital of Peru?', generation)).toMatchObject({ pass: false });
  });

  it('answers Chinese questions from Chinese sentences ending in 。！？', async () => {
    const zh = passage(1, '系统使用Prometheus采集指标。当错误率超过百分之五时，会触发严重告警！告警通过邮件发送。');
    const generation = await reasoner.generate('错误率超过多少会触发告警？', [zh], newRun());
    expect(generation.answered).toBe(true);
    expect(generation.answer).toContain('当错误率超过百分之五时，会触发严重告警！[1]');
    expect(generation.answer).not.toContain('采集指标');
    const missing = await reasoner.generate('公司的年假有几天？', [zh], newRun());
    expect(missing.answer).toBe('检索到的文档中没有能回答这个问题的内容。');
  });

  it('grades relevance by the share of the question a passage covers', async () => {
    // as retrieval hands them over: ranked, with each retriever's score
    const ranked = [
      { ...BACKUPS, n: 1, signals: { denseScore: 0.4, sparseScore: 5.2 } },
      { ...KEYS, n: 2, signals: { denseScore: 0.2, sparseScore: 0.8 } },
      { ...PLANTS, n: 3, signals: { denseScore: 0.1, sparseScore: null } },
    ];
    const grades = (await reasoner.gradeRelevance('How long are database backups kept?', ranked, newRun())).sort((a, b) =>
      a.chunkId.localeCompare(b.chunkId),
    );
    expect(grades.map((g) => [g.chunkId, g.pass])).toEqual([
      ['c1', false],
      ['c2', true],
      ['c3', false],
    ]);
    expect(grades[1].score).toBeGreaterThan(grades[0].score!);
  });

  it('grades an extractive answer supported and useful, and an invented one unsupported', async () => {
    const query = 'How long are database backups kept?';
    const generation = await reasoner.generate(query, [BACKUPS], newRun());
    expect(await reasoner.gradeSupport(query, generation)).toMatchObject({ pass: true });
    expect(await reasoner.gradeUsefulness(query, generation)).toMatchObject({ pass: true });
    const invented = { answer: 'Backups are kept forever on magnetic tapes in Geneva. [1]', used: [BACKUPS], answered: true };
    expect(await reasoner.gradeSupport(query, invented)).toMatchObject({ pass: false });
  });

  it('decides not to retrieve for a question without a content word', async () => {
    expect((await reasoner.decideRetrieval('What is it?')).pass).toBe(false);
    expect((await reasoner.decideRetrieval('How are keys stored?')).pass).toBe(true);
  });

  it('rewrites a question with words the best passages share', async () => {
    const a = passage(1, 'Nightly backup of the database to object storage; retention thirty days.', 3);
    const b = passage(2, 'The backup retention is thirty days for every database.', 2);
    const rewritten = await reasoner.rewrite('How long do we keep copies?', [a, b]);
    expect(rewritten.startsWith('How long do we keep copies?')).toBe(true);
    expect(rewritten).toMatch(/backup|retention|database|thirty/);
  });
  it('answers from a kept passage whose every sentence names the subject, weighing the words over all that was retrieved', async () => {
    const kept = passage(1, 'Kauri pine wood is strong. Kauri pine wood floats. Kauri pine wood was used for ship masts.');
    const others = [
      passage(2, 'Ships need tall masts. Masts were made of spruce.'),
      passage(3, 'New Zealand has many forests. Forests cover the hills.'),
      passage(4, 'Oak is hard. Oak trees grow slowly.'),
    ];
    const question = 'In which century and country was the wood of the kauri pine first used for building ships?';
    // among the kept passage alone, "kauri pine wood" is in every sentence and weighs nothing
    expect((await reasoner.generate(question, [kept], newRun())).answered).toBe(false);
    const vetted = await reasoner.generate(question, [kept], newRun(), [kept, ...others]);
    expect(vetted.answer).toBe('Kauri pine wood was used for ship masts. [1]');
    expect(vetted.used.map((p) => p.chunkId)).toEqual(['c1']);
  });
});
