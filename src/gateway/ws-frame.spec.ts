import * as ws from 'ws';
import { textFrame } from './ws-frame';

/** `ws` exports its frame builder, but its type declarations leave it out. */
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, boolean | number>): Buffer[] };
};

/** What `ws` itself sends for the same text from a server (unmasked, not compressed). */
function framedByWs(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), {
    fin: true,
    opcode: 1,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

describe(textFrame.name, () => {
  it.each([0, 1, 125, 126, 127, 65535, 65536, 70000])('frames %i bytes as ws does', (length) => {
    const text = 'x'.repeat(length);
    expect(textFrame(text).equals(framedByWs(text))).toBe(true);
  });

  it('measures the length in UTF-8 bytes, not characters', () => {
    const text = 'é'.repeat(100); // 200 bytes: the 16-bit length form
    expect(textFrame(text).equals(framedByWs(text))).toBe(true);
  });
});
