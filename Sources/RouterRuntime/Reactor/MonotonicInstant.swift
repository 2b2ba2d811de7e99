/// A point in time on the continuous clock, in nanoseconds: what every deadline, timer and timing of the
/// runtime is measured in.
///
/// `MonotonicInstant` reads the same clock, but the standard library does not freeze its layout,
/// so outside its module each value of it is opaque: copies go through value witnesses, enums carrying
/// one go through the runtime's generic enum functions, and an async function holding one across a
/// suspension allocates room for it from its task. This is one `Int64`.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
  /// Nanoseconds since the clock's origin (boot).
  public let nanoseconds: Int64

  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  /// Now.
  public static var now: MonotonicInstant { MonotonicInstant(nanoseconds: Posix.continuousNanoseconds()) }

  /// This instant moved by `duration`; saturates at the ends of the range rather than trapping (a
  /// deadline of a configured hour is far inside it, but nothing here may trap on a value from outside).
  public func advanced(by duration: Duration) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: Self.saturatingAdd(nanoseconds, Self.nanoseconds(of: duration)))
  }

  /// This instant moved by `nanoseconds`, saturating as ``advanced(by:)`` does.
  public func advanced(byNanoseconds nanoseconds: Int64) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: Self.saturatingAdd(self.nanoseconds, nanoseconds))
  }

  /// The seconds from this instant to `other` (negative when `other` is earlier), without a `Duration`.
  public func seconds(to other: MonotonicInstant) -> Double {
    Double(Self.saturatingAdd(other.nanoseconds, Self.saturatingNegate(nanoseconds))) / 1e9
  }

  /// The duration from this instant to `other` (negative when `other` is earlier).
  public func duration(to other: MonotonicInstant) -> Duration {
    .nanoseconds(Self.saturatingAdd(other.nanoseconds, Self.saturatingNegate(nanoseconds)))
  }

  public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

  public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant { lhs.advanced(by: rhs) }

  public static func += (lhs: inout MonotonicInstant, rhs: Duration) { lhs = lhs.advanced(by: rhs) }

  public static func - (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: saturatingAdd(lhs.nanoseconds, saturatingNegate(nanoseconds(of: rhs))))
  }

  public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration { rhs.duration(to: lhs) }

  public var description: String { "\(nanoseconds) ns" }

  /// `duration` in whole nanoseconds, saturated to `Int64`'s range.
  static func nanoseconds(of duration: Duration) -> Int64 {
    // One 128-bit division (truncating toward zero), where `components` makes two and more: every deadline
    // armed goes through here.
    Int64(clamping: duration.attoseconds / 1_000_000_000)
  }

  private static func saturatingAdd(_ lhs: Int64, _ rhs: Int64) -> Int64 {
    let (sum, overflow) = lhs.addingReportingOverflow(rhs)
    if overflow { return rhs < 0 ? .min : .max }
    return sum
  }

  private static func saturatingNegate(_ value: Int64) -> Int64 { value == .min ? .max : -value }
}
