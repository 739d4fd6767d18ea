import { describe, expect, it } from 'vitest';
import { ChunkerType, CHUNKER_TYPES, chunkText } from '../../../../src/ingestion/chunking';
import { HOSTILE_SHAPES, HostileShape } from './hostile-texts';

/**
 * Chunking time grows linearly with the text whatever its shape: four times the text takes
 * about four times as long (a quadratic chunker takes sixteen). CPU time of this process after
 * a warm-up on another text of the same shape, the least of two runs (a third of the larger
 * text only if the first was over), so other processes on the machine and a garbage collection
 * now and then do not decide the ratio.
 */
const MB = 1_000_000;
// between linear (4) and quadratic (16): this process's CPU time counts its GC threads too, and on a
// machine running the whole suite the larger text met more collections (8.1 was seen once)
const MAX_RATIO = 10;

function cpuSeconds(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

function growthRatio(shape: HostileShape, type: ChunkerType, small: number): { ratio: number; seconds: number[] } {
  const make = HOSTILE_SHAPES[shape];
  const time = (length: number, seed: number) => {
    const text = make(length, seed);
    return cpuSeconds(() => chunkText(text, { type, chunk_size: 512 }));
  };
  time(small / 4, 99);
  const smallSeconds = Math.min(time(small, 1), time(small, 2));
  let largeSeconds = time(4 * small, 3);
  if (largeSeconds / smallSeconds >= MAX_RATIO) largeSeconds = Math.min(largeSeconds, time(4 * small, 4));
  return { ratio: largeSeconds / Math.max(smallSeconds, 0.001), seconds: [smallSeconds, largeSeconds] };
}

describe('chunking time is linear in the text length', () => {
  for (const shape of Object.keys(HOSTILE_SHAPES) as HostileShape[]) {
    it(`${shape}: 4 MB take about four times as long as 1 MB (recursive, the default)`, () => {
      const { ratio, seconds } = growthRatio(shape, 'recursive', MB);
      console.log(`${shape} recursive: 1 MB ${seconds[0].toFixed(3)} s, 4 MB ${seconds[1].toFixed(3)} s, ratio ${ratio.toFixed(1)}`);
      expect(ratio).toBeLessThan(MAX_RATIO);
    });
  }

  // the other chunkers share the splitting and counting; two shapes and smaller texts keep the
  // file quick: a long piece (cut by characters) and a long run the sentence finder looks at
  for (const shape of ['chinese', 'dots'] as const) {
    for (const type of CHUNKER_TYPES.filter((t) => t !== 'recursive')) {
      it(`${shape}: 1 MB take about four times as long as 256 KB (${type})`, () => {
        const { ratio, seconds } = growthRatio(shape, type, MB / 4);
        console.log(`${shape} ${type}: 256 KB ${seconds[0].toFixed(3)} s, 1 MB ${seconds[1].toFixed(3)} s, ratio ${ratio.toFixed(1)}`);
        expect(ratio).toBeLessThan(MAX_RATIO);
      });
    }
  }
});
