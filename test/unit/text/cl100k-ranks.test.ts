import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { buildCl100kRanks } from '../../../scripts/generate-cl100k-ranks';
import { ASSETS_DIR, readCompressedJsonAsset } from '../../../src/common/assets';
import { CL100K_PIECE_PATTERN, CL100K_RANKS_ASSET, type Cl100kRanks } from '../../../src/text/tokenizer';

describe('cl100k_base tables of the token counter', () => {
  it('splits with js-tiktoken’s piece pattern, written out in the source', () => {
    expect(CL100K_PIECE_PATTERN).toBe(cl100kBase.pat_str);
  });

  it('reads the committed ranks asset, whose bytes are pinned', () => {
    const bytes = readFileSync(join(ASSETS_DIR, CL100K_RANKS_ASSET));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('ec615fb75938838a25e718ed97f5a15338a98506edff604a45d623634b20f8e1');
  });

  it('holds js-tiktoken’s ranks unchanged, as the generation script writes them', () => {
    const ranks = readCompressedJsonAsset<Cl100kRanks>(CL100K_RANKS_ASSET);
    expect(ranks).toEqual(buildCl100kRanks());
    expect(ranks.bpe_ranks).toBe(cl100kBase.bpe_ranks);
  });
});
