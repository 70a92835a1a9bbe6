import { maskIdentifier } from '../lib/identifiers';

describe('maskIdentifier (audit events and logs)', () => {
  test.each([
    ['+14155550100', '+1***00'],
    ['+442071838750', '+44***50'],
    ['+3726123456', '+372***56'],
  ])('a phone number keeps at most its country code and last 2 digits: %s → %s', (value, masked) => {
    expect(maskIdentifier({ type: 'phone', value })).toBe(masked);
    // At most 2 of the subscriber digits are left: 1 in 100 of a country's numbers match, not 1 in 1,000.
    expect(masked.replace(/\D/g, '').length).toBeLessThanOrEqual(3 + 2);
  });

  test('an email keeps its first and last letters and the domain', () => {
    expect(maskIdentifier({ type: 'email', value: 'alice@example.com' })).toBe('a***e@example.com');
    expect(maskIdentifier({ type: 'email', value: 'al@example.com' })).toBe('a***@example.com');
  });
});
