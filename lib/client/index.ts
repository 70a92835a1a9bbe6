/**
 * `express-step-up/client`: the browser side of step-up verification.
 *
 * Everything here runs in browsers (and in Node, Deno or a worker): it imports
 * nothing from Node and nothing from the server side of the library, so a
 * bundler targeting the browser takes only this code. Import it as
 * `import { withVerification } from 'express-step-up/client'`.
 */
export {
  withVerification,
  type FetchLike,
  type VerificationRequirement,
  type VerificationRequiredContext,
  type VerificationRecordId,
  type WithVerificationOptions,
} from './with-verification';
export { parseStepUpChallenge, type StepUpChallenge } from './step-up-challenge';
