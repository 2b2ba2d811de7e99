import Glibc
import RouteSpec

/// When a backend said to come back, in milliseconds from now: `Retry-After` as seconds or as an HTTP-date
/// (RFC 9110 §10.2.3), OpenAI's `retry-after-ms`, or Google's `RetryInfo.retryDelay` (`"12s"`, `"1.5s"`).
///
/// Every value is foreign: digits are read with saturation, nothing converts or adds unchecked, and the
/// result is clamped to ``maxMilliseconds``.
enum RetryAfter {
  /// The longest wait louter believes (a day); a larger value is clamped to it.
  static let maxMilliseconds: Int64 = UpstreamErrorMapper.maxRetryDelaySeconds * 1000

  /// The wait from the headers, `retry-after-ms` first (it is the more precise); nil when neither is readable.
  /// `now` is the current Unix time in seconds, which an HTTP-date is measured against.
  static func milliseconds(retryAfter: String?, milliseconds: String?, now: Int64) -> Int64? {
    if let milliseconds, let value = wholeMilliseconds(milliseconds.trimmingWhitespace()) { return value }
    guard let text = retryAfter?.trimmingWhitespace(), !text.isEmpty else { return nil }
    if let seconds = BoundedInteger.decimalDigits(text, maximum: maxMilliseconds / 1000) { return seconds * 1000 }
    guard let date = httpDate(text) else { return nil }
    // A date already past means "now"; both values are bounded, so the difference cannot overflow.
    return min(max(date - now, 0), maxMilliseconds / 1000) * 1000
  }

  /// The current Unix time in seconds.
  static func now() -> Int64 { Int64(time(nil)) }

  /// `retry-after-ms`: whole milliseconds, optionally with a fraction that is dropped.
  static func wholeMilliseconds(_ text: String) -> Int64? { wholePart(text, maximum: maxMilliseconds) }

  /// The whole part of `1*DIGIT ["." 1*DIGIT]`, clamped to `maximum`; the fraction is checked and dropped.
  static func wholePart(_ text: some StringProtocol, maximum: Int64) -> Int64? {
    let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, let value = BoundedInteger.decimalDigits(whole, maximum: maximum),
      parts.count == 1 || BoundedInteger.decimalDigits(parts[1], maximum: .max) != nil
    else { return nil }
    return value
  }

  /// A protobuf Duration as Google writes `RetryInfo.retryDelay`: `"12s"`, `"1.5s"`, `"0.250s"`.
  static func protobufDuration(_ text: String) -> Int64? {
    guard text.hasSuffix("s") else { return nil }
    let number = text.dropLast()
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let wholeText = parts.first,
      let whole = BoundedInteger.decimalDigits(wholeText, maximum: maxMilliseconds / 1000)
    else { return nil }
    var fraction: Int64 = 0
    if parts.count == 2 {
      // Only the first three digits count; the rest are below a millisecond.
      let digits = Array(parts[1].utf8)
      guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
      for index in 0..<3 {
        fraction = fraction * 10 + (index < digits.count ? Int64(digits[index] - 0x30) : 0)
      }
    }
    return min(whole * 1000 + fraction, maxMilliseconds)
  }

  /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds. The obsolete RFC 850 and asctime forms
  /// are not read: no backend sends them, and an unreadable date only means "move on" instead of "wait".
  static func httpDate(_ text: String) -> Int64? {
    let fields = text.split(separator: " ", omittingEmptySubsequences: false)
    guard fields.count == 6, fields[0].count == 4, fields[0].hasSuffix(","), fields[5] == "GMT" else { return nil }
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    // Fixed-width fields read whole: two or four digits cannot saturate, so the ranges below are real checks.
    let clock = fields[4].split(separator: ":", omittingEmptySubsequences: false)
    guard fields[1].count == 2, let day = BoundedInteger.decimalDigits(fields[1], maximum: 99), (1...31).contains(day),
      let monthIndex = months.firstIndex(of: String(fields[2])),
      fields[3].count == 4, let year = BoundedInteger.decimalDigits(fields[3], maximum: 9999), year >= 1970,
      clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
      let hour = BoundedInteger.decimalDigits(clock[0], maximum: 99), hour <= 23,
      let minute = BoundedInteger.decimalDigits(clock[1], maximum: 99), minute <= 59,
      let second = BoundedInteger.decimalDigits(clock[2], maximum: 99), second <= 60
    else { return nil }
    let days = daysSinceEpoch(year: year, month: Int64(monthIndex) + 1, day: day)
    return days * 86_400 + hour * 3600 + minute * 60 + second
  }

  /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`); the year is at
  /// most 9999, so nothing here overflows.
  static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
    let shiftedYear = month <= 2 ? year - 1 : year
    let era = shiftedYear / 400
    let yearOfEra = shiftedYear - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }
}
