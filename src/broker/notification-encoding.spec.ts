import { randomUUID } from 'node:crypto';
import { composeData, dataHead, dataTail, newEpoch, notificationFrame } from './notification-encoding';

describe('notification encoding', () => {
  const createdAt = new Date(Date.UTC(2026, 11, 1, 18, 30)).toISOString();
  const expiresAt = new Date(Date.UTC(2026, 11, 2)).toISOString();

  it('makes frame data that parses back to every field, whatever the channel, type and payload hold', () => {
    const id = randomUUID();
    const channel = 'user:a"b\\c\u2028d';
    const draft = {
      id,
      type: 'order "shipped" \\ \n',
      payload: { text: 'quote " backslash \\ newline \n', nested: [1, null, true] },
      createdAt,
      expiresAt,
    };
    const epoch = newEpoch();

    const data = composeData(dataHead(id, channel), 42, epoch, dataTail(draft));

    expect(JSON.parse(data)).toEqual({
      id,
      channel,
      offset: 42,
      epoch,
      type: draft.type,
      payload: draft.payload,
      createdAt,
      expiresAt,
    });
    expect(JSON.parse(notificationFrame(data))).toEqual({
      event: 'notification',
      data: JSON.parse(data) as unknown,
    });
  });

  it('writes a missing payload as null and leaves out an unset expiry', () => {
    const id = randomUUID();
    const data = composeData(
      dataHead(id, 'broadcast'),
      1,
      'e',
      dataTail({ id, type: 't', payload: undefined, createdAt }),
    );

    expect(JSON.parse(data)).toEqual({
      id,
      channel: 'broadcast',
      offset: 1,
      epoch: 'e',
      type: 't',
      payload: null,
      createdAt,
    });
  });
});
