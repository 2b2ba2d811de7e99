/// Encodes a TOML tree as toml-test's tagged JSON.
///
/// Tables become objects, arrays become arrays, and every scalar becomes
/// `{"type": T, "value": S}` with `S` always a string.
public enum TOMLTaggedJSON {
  /// The tagged JSON of a whole document.
  public static func encode(_ table: TOMLTable) -> JSONValue {
    .object(table.entries.map { JSONMember($0.key, encode($0.value)) })
  }

  /// The tagged JSON of one value.
  public static func encode(_ value: TOMLValue) -> JSONValue {
    switch value.kind {
    case .string(let text): tagged("string", text)
    case .integer(let number): tagged("integer", String(number))
    case .float(let number): tagged("float", format(number))
    case .boolean(let flag): tagged("bool", flag ? "true" : "false")
    case .dateTime(let dateTime): tagged(dateTime.form.typeName, format(dateTime))
    case .array(let elements): .array(elements.map { encode($0) })
    case .table(let table): encode(table)
    }
  }

  static func tagged(_ type: String, _ value: String) -> JSONValue {
    .object([JSONMember("type", .string(type)), JSONMember("value", .string(value))])
  }

  /// A float as `inf`, `-inf`, `nan` or the shortest decimal that reads back to the same double.
  public static func format(_ number: Double) -> String {
    if number.isNaN { return "nan" }
    if number.isInfinite { return number < 0 ? "-inf" : "inf" }
    return number.description
  }

  /// A date-time in RFC 3339 form (local forms leave out the parts they lack), fraction kept.
  public static func format(_ value: TOMLDateTime) -> String {
    var out = ""
    out.reserveCapacity(35)
    if value.form != .localTime {
      pad(value.year, 4, &out)
      out += "-"
      pad(value.month, 2, &out)
      out += "-"
      pad(value.day, 2, &out)
    }
    if value.form == .localDate { return out }
    if value.form != .localTime { out += "T" }
    pad(value.hour, 2, &out)
    out += ":"
    pad(value.minute, 2, &out)
    out += ":"
    pad(value.second, 2, &out)
    if value.nanosecond != 0 || value.fractionDigits > 0 {
      var digits = String(value.nanosecond)
      digits = String(repeating: "0", count: max(0, 9 - digits.count)) + digits
      var keep = 9
      // Keep at least the digits as written; drop only trailing zeros beyond them.
      let minimum = max(1, min(value.fractionDigits, 9))
      let characters = Array(digits.utf8)
      while keep > minimum, characters[keep - 1] == UInt8(ascii: "0") { keep -= 1 }
      out += "." + String(decoding: characters[0..<keep], as: UTF8.self)
    }
    if value.form == .offsetDateTime, let offset = value.offsetMinutes {
      if offset == 0 {
        out += "Z"
      } else {
        out += offset < 0 ? "-" : "+"
        pad(abs(offset) / 60, 2, &out)
        out += ":"
        pad(abs(offset) % 60, 2, &out)
      }
    }
    return out
  }

  static func pad(_ number: Int, _ width: Int, _ out: inout String) {
    let digits = String(number)
    if digits.count < width { out += String(repeating: "0", count: width - digits.count) }
    out += digits
  }
}
