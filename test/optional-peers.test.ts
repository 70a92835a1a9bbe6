import { loadOptionalPeer } from '../lib/optional-peer';

/** What Node's `require` throws for a package that is not installed. */
function moduleNotFound(name: string): Error {
  return Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- /app/node_modules/express-step-up/dist/index.cjs`), {
    code: 'MODULE_NOT_FOUND',
  });
}

/** The error `fn` throws, which it must. */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

const TWILIO_OPTIONS = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'stand-in-auth-token', from: '+14155550100' };
const SENDGRID_OPTIONS = { apiKey: 'SG.stand-in-key', from: 'noreply@example.com' };

describe('loadOptionalPeer', () => {
  it('turns a package that is not installed into a TypeError naming it and the install command', () => {
    const name = 'express-step-up-test-no-such-package';
    const thrown = thrownBy(() => loadOptionalPeer('twilioSender', name, () => require(name)));
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'ERR_STEP_UP_PACKAGE_MISSING' });
    expect((thrown as Error).message).toBe(
      `express-step-up: twilioSender: the package "${name}" is not installed. It is an optional peer dependency of ` +
        `express-step-up, needed only by twilioSender(): run \`npm install ${name}\`. [ERR_STEP_UP_PACKAGE_MISSING]`,
    );
    expect(((thrown as Error).cause as { code?: unknown }).code).toBe('MODULE_NOT_FOUND');
  });

  it('passes on, unchanged, a missing module that is not the package itself (a broken install)', () => {
    const broken = moduleNotFound('axios');
    expect(() => loadOptionalPeer('twilioSender', 'twilio', () => { throw broken; })).toThrow(broken);
  });

  it('passes on any other error of the package as it is', () => {
    const failure = new Error('twilio failed to initialise');
    expect(() => loadOptionalPeer('twilioSender', 'twilio', () => { throw failure; })).toThrow(failure);
  });

  it('returns what the package exports when it is installed', () => {
    expect(loadOptionalPeer('twilioSender', 'twilio', () => require('twilio'))).toBe(require('twilio'));
  });
});

describe('the senders without their SDKs installed', () => {
  const SDKS = ['twilio', '@sendgrid/mail', '@sendgrid/client', '@simplewebauthn/server'];
  /** Each case stands for an app missing only the packages it mocks away. */
  beforeEach(() => {
    for (const name of SDKS) jest.dontMock(name);
    jest.resetModules();
  });

  it('the library loads, and a step-up without senders or passkeys works, with neither twilio, SendGrid nor @simplewebauthn/server installed', () => {
    jest.isolateModules(() => {
      for (const name of SDKS) {
        jest.doMock(name, () => { throw moduleNotFound(name); });
      }
      const library = require('../lib/index') as typeof import('../lib/index');
      const stepUp = library.createStepUp({
        authenticate: () => null,
        users: { findById: () => null },
      });
      expect(typeof stepUp.requireVerification).toBe('function');
    });
  });

  it('twilioSender() throws a TypeError telling to install twilio', () => {
    jest.isolateModules(() => {
      jest.doMock('twilio', () => { throw moduleNotFound('twilio'); });
      const { twilioSender } = require('../lib/senders/twilio') as typeof import('../lib/senders/twilio');
      const error = thrownBy(() => twilioSender(TWILIO_OPTIONS));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(
        'express-step-up: twilioSender: the package "twilio" is not installed. It is an optional peer dependency of ' +
          'express-step-up, needed only by twilioSender(): run `npm install twilio`. [ERR_STEP_UP_PACKAGE_MISSING]',
      );
    });
  });

  it('sendgridSender() throws a TypeError naming whichever SendGrid package is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('@sendgrid/mail', () => { throw moduleNotFound('@sendgrid/mail'); });
      const { sendgridSender } = require('../lib/senders/sendgrid') as typeof import('../lib/senders/sendgrid');
      const error = thrownBy(() => sendgridSender(SENDGRID_OPTIONS));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/^express-step-up: sendgridSender: the package "@sendgrid\/mail" is not installed.*npm install @sendgrid\/mail/);
    });
    jest.dontMock('@sendgrid/mail');
    jest.isolateModules(() => {
      jest.doMock('@sendgrid/client', () => { throw moduleNotFound('@sendgrid/client'); });
      const { sendgridSender } = require('../lib/senders/sendgrid') as typeof import('../lib/senders/sendgrid');
      const error = thrownBy(() => sendgridSender(SENDGRID_OPTIONS));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/^express-step-up: sendgridSender: the package "@sendgrid\/client" is not installed.*npm install @sendgrid\/client/);
    });
  });

  it('createStepUp({ passkeys }) throws a TypeError telling to install @simplewebauthn/server', () => {
    jest.isolateModules(() => {
      jest.doMock('@simplewebauthn/server', () => { throw moduleNotFound('@simplewebauthn/server'); });
      const { createStepUp } = require('../lib/index') as typeof import('../lib/index');
      const users = { findById: () => null, listPasskeys: () => [], savePasskey: () => undefined, updatePasskeyCounter: () => undefined };
      const passkeys = { rpId: 'bank.example', rpName: 'Example Bank', origin: 'https://bank.example' };
      const error = thrownBy(() => createStepUp({ authenticate: () => null, users, secret: 'x'.repeat(32), passkeys }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(
        'express-step-up: createStepUp: the package "@simplewebauthn/server" is not installed. It is an optional peer dependency of ' +
          'express-step-up, needed only by the `passkeys` option: run `npm install @simplewebauthn/server`. [ERR_STEP_UP_PACKAGE_MISSING]',
      );
      // An invalid passkeys option is still reported as such before the package is looked for.
      expect(() => createStepUp({ authenticate: () => null, users, secret: 'x'.repeat(32), passkeys: { ...passkeys, rpId: 'Bank' } })).toThrow(/rpId/);
    });
  });

  it('an invalid configuration is still reported as such before the SDK is looked for', () => {
    jest.isolateModules(() => {
      jest.doMock('twilio', () => { throw moduleNotFound('twilio'); });
      const { twilioSender } = require('../lib/senders/twilio') as typeof import('../lib/senders/twilio');
      expect(() => twilioSender({ ...TWILIO_OPTIONS, accountSid: 'nope' })).toThrow(/accountSid/);
    });
  });
});
