// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SOURCE, staleTargets } = require('../../scripts/generate-wire.js') as {
  SOURCE: string;
  staleTargets: () => string[];
};

describe('wire shapes', () => {
  it(`has every generated copy equal to ${SOURCE} (run npm run build after editing it)`, () => {
    expect(staleTargets()).toEqual([]);
  });
});
