import RouteSpec
import Testing

/// The string writer scans eight bytes at a time; it must write exactly what a byte-by-byte writer writes.
@Suite struct JSONWriterTests {
  /// The writer's escaping rule, one byte at a time (what it did before the word-at-a-time scan).
  static func reference(_ text: String) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out += Array("\\\"".utf8)
      case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
      case 0x0A: out += Array("\\n".utf8)
      case 0x0D: out += Array("\\r".utf8)
      case 0x09: out += Array("\\t".utf8)
      case 0x08: out += Array("\\b".utf8)
      case 0x0C: out += Array("\\f".utf8)
      case 0x00..<0x20, 0x7F:
        let hex = Array("0123456789abcdef".utf8)
        out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
    return out
  }

  /// Every ASCII byte at every position of strings from 0 to 19 bytes, among plain letters and among non-ASCII
  /// text (whose bytes ≥ 0x80 must never pass for escapes, nor hide one).
  @Test func everyByteAtEveryPositionIsWrittenAsByteByByte() {
    for filler in ["a", "é", "\u{10FFFF}"] {
      for length in 0..<20 {
        for position in 0...length {
          for scalar in 0..<0x80 {
            guard let unicode = Unicode.Scalar(scalar) else { continue }
            let fill = String(repeating: filler, count: length)
            let index = fill.index(fill.startIndex, offsetBy: min(position, fill.count))
            var text = fill
            text.insert(Character(unicode), at: index)
            var out: [UInt8] = []
            JSONWriter.writeString(text, into: &out)
            if out != Self.reference(text) {
              Issue.record("\(Array(text.utf8)) → \(out)")
              return
            }
          }
        }
      }
    }
  }

  /// Strings around the word size and with several escapes in one word.
  @Test func mixedTextIsWrittenAsByteByByte() {
    let samples = [
      "", "12345678", "1234567\"", "\"1234567", "\\\\\\\\\\\\\\\\", "\u{7F}\u{1F}\u{0}abc\u{2028}é\t",
      "naïve café — “quotes” \u{1F600}\n\r\u{8}\u{C}", String(repeating: "long text without escapes ", count: 9),
      "{\"json\":\"in a string\",\"n\":[1,2.5e-3]}",
    ]
    for text in samples {
      var out: [UInt8] = []
      JSONWriter.writeString(text, into: &out)
      #expect(out == Self.reference(text), "\(text)")
    }
  }
}

/// Numbers are written digit by digit; the text must be Swift's own.
@Suite struct JSONNumberWriterTests {
  @Test func integersAreWrittenAsStringSpellsThem() {
    var samples: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 12345, -987_654_321, .max, .min, .max - 1, .min + 1]
    var power: Int64 = 1
    while power <= Int64.max / 10 {
      power *= 10
      samples += [power, power - 1, -power, -(power - 1)]
    }
    for number in samples {
      var out: [UInt8] = []
      JSONWriter.writeInteger(number, into: &out)
      #expect(String(decoding: out, as: UTF8.self) == String(number))
      #expect(JSONValue.int(number).serialized() == String(number))
    }
  }

  @Test func doublesAreWrittenAsBefore() {
    let samples: [(Double, String)] = [
      (0, "0.0"), (-0.0, "0"), (0.7, "0.7"), (-2.5, "-2.5"), (1e15, "1000000000000000.0"), (1e300, "1e+300"),
      (123_456_789_012_345, "123456789012345.0"),
      (-4.0, "-4.0"), (1e-7, "1e-07"), (.infinity, "null"), (.nan, "null"), (0.1 + 0.2, "0.30000000000000004"),
    ]
    for (number, text) in samples {
      var out: [UInt8] = []
      JSONWriter.writeDouble(number, into: &out)
      #expect(String(decoding: out, as: UTF8.self) == text, "\(number)")
    }
  }
}
