import { rejectUnknownOptions } from '../config-error';
import { consoleSenderMark, isConsoleSender } from './console';
import type { CodeMessage, Sender } from './sender';

/** Routes each message to the sender of its channel, e.g. `{ email: sendgridSender(...), phone: twilioSender(...) }`. */
export function senderByChannel(senders: { email?: Sender | undefined; phone?: Sender | undefined }): Sender {
  rejectUnknownOptions('senderByChannel()', senders, ['email', 'phone']);
  const printsCodes = [senders.email, senders.phone].some((sender) => sender !== undefined && isConsoleSender(sender));
  return {
    ...(printsCodes ? consoleSenderMark() : {}),
    async send(message: CodeMessage): Promise<void> {
      const sender = senders[message.channel];
      if (sender === undefined) throw new Error(`No sender for ${message.channel} messages`);
      await sender.send(message);
    },
  };
}
