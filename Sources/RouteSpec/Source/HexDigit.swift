/// ASCII hexadecimal digits, for every parser that reads them (TOML escapes, percent-encoding, HTTP chunk sizes).
public enum HexDigit {
  /// The value of `byte` as a hex digit (`0`–`9`, `a`–`f`, `A`–`F`), or nil when it is not one.
  public static func value(of byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}

extension HexDigit {
  /// The lowercase ASCII digit of `nibble` (`0...15`); bits above the low four are ignored.
  public static func lowercase(_ nibble: UInt8) -> UInt8 {
    let low = nibble & 0xF
    return low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10
  }
}
