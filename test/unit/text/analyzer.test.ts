import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/text/analyzer';

describe('analyze', () => {
  it('lower-cases, drops English stopwords and stems with Porter2', () => {
    expect(analyze('The Cells were Running studies of generalization')).toEqual(['cell', 'run', 'studi', 'general']);
  });

  it('keeps digits, single letters and Greek letters, which carry meaning in technical text', () => {
    expect(analyze('IL-6 and TNF-α in 2019')).toEqual(['il', '6', 'tnf', 'α', '2019']);
  });

  it('normalizes compatibility forms (full-width Latin, ligatures) before tokenizing', () => {
    expect(analyze('ＡＰＩ ﬁle')).toEqual(analyze('API file'));
  });

  it('reads query syntax as plain words: no operator or quote survives as a term', () => {
    const terms = analyze('NEAR("quantum" OR chromo*) AND -gluon; DROP TABLE x; --');
    expect(terms).toEqual(['near', 'quantum', 'chromo', 'gluon', 'drop', 'tabl', 'x']);
    for (const term of terms) expect(term).toMatch(/^[\p{L}\p{M}\p{N}]+$/u);
  });

  it('splits Chinese into character bigrams plus jieba words of three or more characters', () => {
    const terms = analyze('向量数据库');
    expect(terms).toContain('数据库');
    expect(terms).toEqual(expect.arrayContaining(['向量', '量数', '数据', '据库']));
    expect(terms).not.toContain('向量数据库向量数据库');
  });

  it('never keeps a whole Chinese sentence as one token', () => {
    const sentence = '告警规则应该按服务聚合错误率';
    expect(analyze(sentence)).not.toContain(sentence);
    expect(analyze(sentence)).toEqual(expect.arrayContaining(['告警', '错误', '误率']));
  });

  it('handles mixed Chinese and English with no spaces between them', () => {
    const terms = analyze('在Kubernetes上部署Redis集群');
    expect(terms).toEqual(expect.arrayContaining(['kubernet', 'redi', '部署', '集群']));
  });

  it('keeps a lone CJK character (a one-character word)', () => {
    expect(analyze('猫 cat')).toEqual(['猫', 'cat']);
  });

  it('drops tokens too long to be words', () => {
    expect(analyze(`key ${'a'.repeat(200)}`)).toEqual(['key']);
  });

  it('gives the same terms for the same text (index and query time agree)', () => {
    const text = 'Self-RAG 检索增强生成 retrieval-augmented generation';
    expect(analyze(text)).toEqual(analyze(text));
  });
});
