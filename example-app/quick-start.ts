import express from 'express';
import bcrypt from 'bcrypt';
import { createStepUp, jwtAuthenticator } from '../lib/index';

// Your users: the library needs a bcrypt hash and the current email and phone.
const users = new Map([
  ['usr_1', { id: 'usr_1', passwordHash: bcrypt.hashSync('a long passphrase', 10), email: 'ana@example.com', phone: '+14155550123' }],
]);

export function createApp(jwtSecret: string) {
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: jwtSecret, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    // store: new RedisStore({ client: redis }), secret: process.env.VERIFICATION_SECRET,  (for several instances)
    // sender: sendgridSender({...}) or twilioSender({...}) to send codes
  });

  const app = express();
  app.use('/api/verifications', stepUp.router);
  app.use(express.json());

  // A sensitive action: the caller must have verified in the last 5 minutes, and the record works once.
  app.post('/api/payouts', stepUp.requireVerification({ maxAge: 300, singleUse: true }), (req, res) => {
    res.status(201).json({ paidBy: req.verification?.userId, method: req.verification?.method });
  });
  return app;
}
