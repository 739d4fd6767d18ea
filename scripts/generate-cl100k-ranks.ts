/**
 * Regenerates `assets/cl100k_base-ranks.json.br`, the byte-pair ranks of OpenAI's cl100k_base
 * encoding that the chunker's token counter merges with, from the `js-tiktoken` package (a
 * devDependency: the tests compare the counter with its encoder):
 *   npx tsx scripts/generate-cl100k-ranks.ts
 * The ranks are kept in js-tiktoken's own compact text (`bpe_ranks`), unchanged; a unit test
 * checks the asset against the package.
 */
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import { CL100K_RANKS_ASSET, type Cl100kRanks } from '../src/text/tokenizer';
import { writeCompressedJsonAsset } from './compressed-asset';

export function buildCl100kRanks(): Cl100kRanks {
  return {
    source: "cl100k_base byte-pair ranks of OpenAI's tiktoken (MIT licence), in the compact text of js-tiktoken@1.0.21 (MIT licence)",
    bpe_ranks: cl100kBase.bpe_ranks,
  };
}

if (require.main === module) {
  const ranks = buildCl100kRanks();
  writeCompressedJsonAsset(CL100K_RANKS_ASSET, ranks);
  process.stdout.write(`${ranks.bpe_ranks.length} characters of ranks\n`);
}
