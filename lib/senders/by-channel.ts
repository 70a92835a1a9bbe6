import type { CodeMessage, Sender } from './sender';

/** Routes each message to the sender of its channel, e.g. `{ email: sendgridSender(...), phone: twilioSender(...) }`. */
export function senderByChannel(senders: { email?: Sender; phone?: Sender }): Sender {
  return {
    async send(message: CodeMessage): Promise<void> {
      const sender = senders[message.channel];
      if (sender === undefined) throw new Error(`No sender for ${message.channel} messages`);
      await sender.send(message);
    },
  };
}
