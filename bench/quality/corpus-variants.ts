import type { BeirDocument } from './beir';
import { documentText } from './beir';

/**
 * A bigger corpus made from a small one, for latency at scale: copy r of each document drops
 * every tenth word (shifted by r) and rotates its sentences by r, so copies are not identical
 * and document frequencies grow as they would with more real text.
 */
export function* corpusCopies(corpus: readonly BeirDocument[], copies: number): Generator<{ id: string; text: string }> {
  for (let copy = 0; copy < copies; copy++) {
    for (const document of corpus) {
      const text = documentText(document);
      if (copy === 0) {
        yield { id: document.id, text };
        continue;
      }
      const sentences = text.split(/(?<=[.!?。！？])\s*/);
      const shift = copy % Math.max(1, sentences.length);
      const rotated = [...sentences.slice(shift), ...sentences.slice(0, shift)].join(' ');
      const words = rotated.split(/\s+/).filter((_, index) => (index + copy) % 10 !== 0);
      yield { id: `${document.id}~${copy}`, text: words.join(' ') };
    }
  }
}
