extension TOMLReader {
  /// Exact powers of ten: the fast float path multiplies or divides by one of these.
  static let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
  ]

  /// Parses a boolean, number, `inf` or `nan` token.
  mutating func parseWord() throws(TOMLError) -> TOMLValue {
    let start = pos
    while pos < end, ASCII.isWordByte(bytes[pos]) { pos += 1 }
    let stop = pos
    let location = span(start, stop)
    if matches(start, stop, "true") { return TOMLValue(.boolean(true), span: location) }
    if matches(start, stop, "false") { return TOMLValue(.boolean(false), span: location) }
    return TOMLValue(try number(start, stop), span: location)
  }

  func matches(_ start: Int, _ stop: Int, _ word: StaticString) -> Bool {
    guard stop - start == word.utf8CodeUnitCount else { return false }
    let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
    for offset in 0..<(stop - start) where bytes[start + offset] != expected[offset] { return false }
    return true
  }

  func invalidNumber(_ start: Int, _ stop: Int, _ message: String, help: String? = nil) -> TOMLError {
    error(.invalidNumber, message, start, stop, help: help)
  }

  /// Classifies and converts a number token.
  func number(_ start: Int, _ stop: Int) throws(TOMLError) -> TOMLValue.Kind {
    guard start < stop else { throw unexpected(start, expected: "a value") }
    var index = start
    let sign = bytes[index]
    let signed = sign == ASCII.plus || sign == ASCII.minus
    let negative = sign == ASCII.minus
    if signed { index += 1 }
    if matches(index, stop, "inf") { return .float(negative ? -.infinity : .infinity) }
    if matches(index, stop, "nan") { return .float(.nan) }
    guard index < stop, ASCII.isDigit(bytes[index]) else {
      let word = text(start, stop)
      if !signed, stop - start > 0, bytes[start] != ASCII.dot, bytes[start] != ASCII.underscore {
        throw error(
          .unexpectedToken, "expected a value, found `\(word)`", start, stop,
          help: "strings must be quoted: \"\(word)\"")
      }
      throw invalidNumber(start, stop, "invalid number `\(word)`", help: "a number starts with a digit")
    }
    if bytes[index] == ASCII.zero, index + 1 < stop {
      let marker = bytes[index + 1]
      if marker == UInt8(ascii: "x") || marker == UInt8(ascii: "o") || marker == UInt8(ascii: "b") {
        guard !signed else {
          throw invalidNumber(
            start, stop, "hexadecimal, octal and binary integers cannot have a sign",
            help: "remove the `\(text(start, start + 1))`")
        }
        return try radixInteger(
          start, stop, radix: marker == UInt8(ascii: "x") ? 16 : marker == UInt8(ascii: "o") ? 8 : 2)
      }
      if ASCII.isDigit(marker) || marker == ASCII.underscore {
        throw invalidNumber(
          start, stop, "leading zeros are not allowed in `\(text(start, stop))`", help: "remove the leading zeros")
      }
    }
    var mantissa: UInt64 = 0
    var significant = 0
    var dropped = false
    guard scanDigits(&index, stop, &mantissa, &significant, &dropped) != nil else {
      throw invalidNumber(
        start, stop, "invalid number `\(text(start, stop))`", help: "an underscore must sit between two digits")
    }
    var isFloat = false
    var exponent = 0
    if index < stop, bytes[index] == ASCII.dot {
      isFloat = true
      index += 1
      guard let digits = scanDigits(&index, stop, &mantissa, &significant, &dropped) else {
        throw invalidNumber(
          start, stop, "invalid float `\(text(start, stop))`", help: "write at least one digit after the decimal point")
      }
      exponent -= digits
    }
    if index < stop, bytes[index] | 0x20 == UInt8(ascii: "e") {
      isFloat = true
      index += 1
      var exponentNegative = false
      if index < stop, bytes[index] == ASCII.plus || bytes[index] == ASCII.minus {
        exponentNegative = bytes[index] == ASCII.minus
        index += 1
      }
      var value: UInt64 = 0
      var count = 0
      var tooBig = false
      guard scanDigits(&index, stop, &value, &count, &tooBig) != nil else {
        throw invalidNumber(
          start, stop, "invalid float `\(text(start, stop))`", help: "write the exponent as digits, like 1e6 or 2.5E-3")
      }
      // Exponents this large overflow or underflow anyway; clamping keeps the arithmetic safe.
      let magnitude = tooBig || value > 100_000 ? 100_000 : Int(value)
      exponent += exponentNegative ? -magnitude : magnitude
    }
    guard index == stop else {
      throw invalidNumber(
        start, stop, "invalid number `\(text(start, stop))`",
        help: "unexpected \(describe(index)) in the number")
    }
    if !isFloat {
      let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
      guard !dropped, mantissa <= limit else {
        throw error(
          .numberOutOfRange, "integer `\(text(start, stop))` does not fit in 64 bits", start, stop,
          help: "integers must lie between -9223372036854775808 and 9223372036854775807")
      }
      if negative { return .integer(mantissa == limit ? Int64.min : -Int64(mantissa)) }
      return .integer(Int64(mantissa))
    }
    // Up to 15 significant digits and a power of ten up to 22 are exact in a double,
    // so one correctly rounded operation gives the correctly rounded result.
    if !dropped, significant <= 15, exponent >= -22, exponent <= 22 {
      let base = Double(mantissa)
      let magnitude = Self.powersOfTen[abs(exponent)]
      let value = exponent >= 0 ? base * magnitude : base / magnitude
      return .float(negative ? -value : value)
    }
    var digits = ""
    digits.reserveCapacity(stop - start)
    for offset in start..<stop where bytes[offset] != ASCII.underscore {
      digits.unicodeScalars.append(Unicode.Scalar(bytes[offset]))
    }
    guard let value = Double(digits) else {
      throw invalidNumber(start, stop, "invalid float `\(text(start, stop))`")
    }
    return .float(value)
  }

  /// Scans decimal digits with single underscores between them; returns how many digits, or nil if malformed.
  ///
  /// Digits go into `mantissa` until 19 significant ones are held; `dropped` says more followed.
  func scanDigits(
    _ index: inout Int, _ stop: Int, _ mantissa: inout UInt64, _ significant: inout Int, _ dropped: inout Bool
  ) -> Int? {
    guard index < stop, ASCII.isDigit(bytes[index]) else { return nil }
    var count = 0
    while index < stop {
      let value = bytes[index]
      if ASCII.isDigit(value) {
        let digit = UInt64(value - ASCII.zero)
        if significant < 19 {
          if mantissa != 0 || digit != 0 {
            mantissa = mantissa * 10 + digit
            significant += 1
          }
        } else {
          dropped = true
        }
        count += 1
        index += 1
      } else if value == ASCII.underscore {
        guard index + 1 < stop, ASCII.isDigit(bytes[index + 1]) else { return nil }
        index += 1
      } else {
        break
      }
    }
    return count
  }

  /// Converts `0x…`, `0o…` or `0b…`.
  func radixInteger(_ start: Int, _ stop: Int, radix: UInt64) throws(TOMLError) -> TOMLValue.Kind {
    let name = radix == 16 ? "hexadecimal" : radix == 8 ? "octal" : "binary"
    var index = start + 2
    var value: UInt64 = 0
    var overflow = false
    var expectDigit = true
    while index < stop {
      let byte = bytes[index]
      if byte == ASCII.underscore, !expectDigit {
        expectDigit = true
        index += 1
        continue
      }
      guard let digit = TOMLReader.hexValue(byte), UInt64(digit) < radix else {
        throw invalidNumber(
          start, stop, "invalid \(name) integer `\(text(start, stop))`",
          help: byte == ASCII.underscore ? "an underscore must sit between two digits" : "unexpected \(describe(index))"
        )
      }
      let (shifted, overflowed) = value.multipliedReportingOverflow(by: radix)
      overflow = overflow || overflowed
      value = shifted | UInt64(digit)
      expectDigit = false
      index += 1
    }
    guard !expectDigit else {
      throw invalidNumber(
        start, stop, "invalid \(name) integer `\(text(start, stop))`", help: "write at least one digit")
    }
    guard !overflow, value <= UInt64(Int64.max) else {
      throw error(
        .numberOutOfRange, "integer `\(text(start, stop))` does not fit in 64 bits", start, stop,
        help: "the largest integer is 0x7FFFFFFFFFFFFFFF")
    }
    return .integer(Int64(value))
  }

  // MARK: Dates and times

  /// `YYYY-` at `index`.
  func isDateStart(_ index: Int) -> Bool {
    index + 4 < end && ASCII.isDigit(bytes[index]) && ASCII.isDigit(bytes[index + 1])
      && ASCII.isDigit(bytes[index + 2]) && ASCII.isDigit(bytes[index + 3]) && bytes[index + 4] == ASCII.minus
  }

  /// `HH:` at `index`.
  func isTimeStart(_ index: Int) -> Bool {
    index + 2 < end && ASCII.isDigit(bytes[index]) && ASCII.isDigit(bytes[index + 1])
      && bytes[index + 2] == ASCII.colon
  }

  /// Reads two digits at `pos` as a number.
  mutating func twoDigits(_ what: String, _ start: Int) throws(TOMLError) -> Int {
    guard pos + 1 < end, ASCII.isDigit(bytes[pos]), ASCII.isDigit(bytes[pos + 1]) else {
      throw dateTimeError(start, "expected two digits for the \(what)")
    }
    let value = Int(bytes[pos] - ASCII.zero) * 10 + Int(bytes[pos + 1] - ASCII.zero)
    pos += 2
    return value
  }

  mutating func expectSeparator(_ separator: UInt8, _ what: String, _ start: Int) throws(TOMLError) {
    guard byte(at: pos) == separator, pos < end else { throw dateTimeError(start, "expected \(what)") }
    pos += 1
  }

  /// An error spanning the date-time token from `start`.
  func dateTimeError(_ start: Int, _ message: String) -> TOMLError {
    var stop = max(pos, start)
    while stop < end, ASCII.isWordByte(bytes[stop]) || bytes[stop] == ASCII.colon { stop += 1 }
    return error(
      .invalidDateTime, "invalid date-time `\(text(start, stop))`: \(message)", start, stop,
      help: "write dates as 1979-05-27, times as 07:32:00 and date-times as 1979-05-27T07:32:00Z")
  }

  func rangeError(_ start: Int, _ stop: Int, _ message: String) -> TOMLError {
    error(.invalidDateTime, message, start, stop)
  }

  /// Parses an offset or local date-time, a local date or a local time at `pos`.
  mutating func parseDateTime() throws(TOMLError) -> TOMLValue {
    let start = pos
    var value = TOMLDateTime(form: .localTime)
    if isDateStart(pos) {
      value.form = .localDate
      value.year = (0..<4).reduce(0) { $0 * 10 + Int(bytes[start + $1] - ASCII.zero) }
      pos += 5
      let monthStart = pos
      value.month = try twoDigits("month", start)
      guard (1...12).contains(value.month) else {
        throw rangeError(monthStart, pos, "month \(value.month) is out of range (01-12)")
      }
      try expectSeparator(ASCII.minus, "`-` between month and day", start)
      let dayStart = pos
      value.day = try twoDigits("day", start)
      let days = Self.daysIn(month: value.month, year: value.year)
      guard value.day >= 1, value.day <= days else {
        throw rangeError(dayStart, pos, "day \(value.day) is out of range for this month (01-\(days))")
      }
      let separator = byte(at: pos)
      let timeFollows =
        pos < end
        && (separator | 0x20 == UInt8(ascii: "t")
          || separator == ASCII.space && isTimeStart(pos + 1))
      if timeFollows {
        pos += 1
        try parseTime(into: &value, start)
        let zone = byte(at: pos)
        if pos < end, zone | 0x20 == UInt8(ascii: "z") {
          pos += 1
          value.offsetMinutes = 0
          value.form = .offsetDateTime
        } else if pos < end, zone == ASCII.plus || zone == ASCII.minus {
          let offsetStart = pos
          pos += 1
          let hours = try twoDigits("offset hour", start)
          try expectSeparator(ASCII.colon, "`:` in the offset", start)
          let minutes = try twoDigits("offset minute", start)
          guard hours <= 23, minutes <= 59 else {
            throw rangeError(offsetStart, pos, "offset \(text(offsetStart, pos)) is out of range")
          }
          value.offsetMinutes = (hours * 60 + minutes) * (zone == ASCII.minus ? -1 : 1)
          value.form = .offsetDateTime
        } else {
          value.form = .localDateTime
        }
      }
    } else {
      try parseTime(into: &value, start)
    }
    if pos < end, ASCII.isWordByte(bytes[pos]) || bytes[pos] == ASCII.colon {
      throw dateTimeError(start, "unexpected \(describe(pos))")
    }
    return TOMLValue(.dateTime(value), span: span(start, pos))
  }

  /// Parses `HH:MM:SS[.fraction]` at `pos` into `value`.
  mutating func parseTime(into value: inout TOMLDateTime, _ start: Int) throws(TOMLError) {
    let timeStart = pos
    value.hour = try twoDigits("hour", start)
    try expectSeparator(ASCII.colon, "`:` between hour and minute", start)
    value.minute = try twoDigits("minute", start)
    guard byte(at: pos) == ASCII.colon, pos < end else {
      throw dateTimeError(start, "seconds are required in TOML 1.0")
    }
    pos += 1
    value.second = try twoDigits("second", start)
    guard value.hour <= 23, value.minute <= 59, value.second <= 59 else {
      throw rangeError(timeStart, pos, "time \(text(timeStart, pos)) is out of range")
    }
    guard byte(at: pos) == ASCII.dot, pos < end else { return }
    pos += 1
    guard pos < end, ASCII.isDigit(bytes[pos]) else {
      throw dateTimeError(start, "expected digits after the decimal point")
    }
    var nanosecond = 0
    var digits = 0
    while pos < end, ASCII.isDigit(bytes[pos]) {
      // Digits past nanoseconds are truncated, as the TOML spec allows.
      if digits < 9 {
        nanosecond = nanosecond * 10 + Int(bytes[pos] - ASCII.zero)
        digits += 1
      }
      pos += 1
    }
    var scale = digits
    while scale < 9 {
      nanosecond *= 10
      scale += 1
    }
    value.nanosecond = nanosecond
    value.fractionDigits = digits
  }

  /// Days in `month` of `year` in the proleptic Gregorian calendar.
  static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }
}
