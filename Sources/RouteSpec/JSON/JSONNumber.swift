/// Non-trapping conversions of foreign numbers (JSON from clients and backends, header and flag text) to
/// bounded integers.
///
/// Swift traps on `Int64(1e300)`, `Int32(someInt64)` and overflowing `+`; every number that came from outside
/// goes through here instead, so no hostile value can crash the process.
public enum BoundedInteger {
  /// `-2^63` as a double: the smallest double that converts to `Int64` exactly.
  private static let lowerBound = -9_223_372_036_854_775_808.0
  /// `2^63` as a double: the first double that no longer fits `Int64` (`Double(Int64.max)` rounds up to it).
  private static let upperBound = 9_223_372_036_854_775_808.0

  /// The integral double `value` as an `Int64`, or nil when it is fractional, NaN, infinite or out of range.
  /// `-0.0` is `0`.
  public static func exact(_ value: Double) -> Int64? {
    guard value.isFinite, value.rounded(.towardZero) == value, value >= lowerBound, value < upperBound else {
      return nil
    }
    return Int64(value)
  }

  /// `value` truncated toward zero and clamped into `range`; NaN gives nil.
  public static func clamping(_ value: Double, to range: ClosedRange<Int64>) -> Int64? {
    guard !value.isNaN else { return nil }
    if value < lowerBound { return range.lowerBound }
    if value >= upperBound { return range.upperBound }
    return clamping(Int64(value.rounded(.towardZero)), to: range)
  }

  /// `value` clamped into `range`.
  public static func clamping(_ value: Int64, to range: ClosedRange<Int64>) -> Int64 {
    min(max(value, range.lowerBound), range.upperBound)
  }

  /// `a + b` clamped into `range` (no overflow trap, whatever the operands).
  public static func sum(_ a: Int64, _ b: Int64, in range: ClosedRange<Int64>) -> Int64 {
    let (total, overflow) = a.addingReportingOverflow(b)
    guard overflow else { return clamping(total, to: range) }
    // Both operands have the sign of the overflow's direction.
    return a > 0 ? range.upperBound : range.lowerBound
  }

  /// The unsigned decimal `text` (`1*DIGIT`, nothing else: no sign, spaces or exponent) clamped to `maximum`,
  /// or nil when it is not such a number. Any length is read without overflow.
  // Inlinable so that callers in other modules get it specialised for their string type: the generic version,
  // reading `utf8` through witness tables, cost ~1.4k instructions for a three-digit `Content-Length`.
  @inlinable
  public static func decimalDigits(_ text: some StringProtocol, maximum: Int64) -> Int64? {
    guard !text.isEmpty else { return nil }
    var value: Int64 = 0
    for byte in text.utf8 {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      // Keep scanning after saturation so a trailing non-digit still rejects the text.
      if value < maximum {
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
        value = o1 || o2 ? maximum : min(next, maximum)
      }
    }
    return value
  }
}

extension JSONValue {
  /// The number as an integer in `range`, or nil when it is not a number, not integral (`40.0` is integral,
  /// `40.5` is not) or outside `range`. For values that must be rejected when wrong (request fields).
  public func integer(in range: ClosedRange<Int64>) -> Int64? {
    let value: Int64?
    switch self {
    case .int(let number): value = number
    case .double(let number): value = BoundedInteger.exact(number)
    default: value = nil
    }
    guard let value, range.contains(value) else { return nil }
    return value
  }

  /// Any number truncated toward zero and clamped into `range` (`1e300` becomes `range.upperBound`), or nil when
  /// it is not a number. For values that are reported, not obeyed (token counts, indices from a backend).
  public func clampedInteger(in range: ClosedRange<Int64>) -> Int64? {
    switch self {
    case .int(let number): BoundedInteger.clamping(number, to: range)
    case .double(let number): BoundedInteger.clamping(number, to: range)
    default: nil
    }
  }
}
