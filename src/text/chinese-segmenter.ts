import { Jieba } from '@node-rs/jieba';
import { dict } from '@node-rs/jieba/dict';

/** jieba with its default dictionary, loaded once on first use (~150 ms) */
let jieba: Jieba | undefined;

/** Chinese word segmentation (jieba, HMM on for words missing from the dictionary) */
export function segmentChinese(text: string): string[] {
  jieba ??= Jieba.withDict(dict);
  return jieba.cut(text, true);
}
