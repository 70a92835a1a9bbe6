export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __TEST_REDIS__?: { stop(): Promise<void> } }).__TEST_REDIS__?.stop();
}
