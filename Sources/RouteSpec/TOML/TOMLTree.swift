/// A TOML value as parsed, with the span of its source text.
public struct TOMLValue: Sendable {
  /// The kinds of value TOML 1.0 has.
  public enum Kind: Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case dateTime(TOMLDateTime)
    case array([TOMLValue])
    case table(TOMLTable)
  }

  /// What the value is.
  public var kind: Kind
  /// The value's own text: for a string its quotes included; for a header table the header.
  public var span: SourceSpan

  /// Creates a value.
  public init(_ kind: Kind, span: SourceSpan) {
    self.kind = kind
    self.span = span
  }

  /// The name of the value's type as the route language's messages say it.
  public var typeName: String {
    switch kind {
    case .string: "string"
    case .integer: "integer"
    case .float: "float"
    case .boolean: "boolean"
    case .dateTime(let value): value.form.typeName
    case .array: "array"
    case .table: "table"
    }
  }
}

/// A TOML date, time or date-time, with its components as written.
public struct TOMLDateTime: Sendable, Equatable {
  /// Which of TOML's four date-time types this is.
  public enum Form: Sendable, Equatable {
    case offsetDateTime
    case localDateTime
    case localDate
    case localTime

    /// The toml-test type tag (`datetime`, `datetime-local`, `date-local`, `time-local`).
    public var typeName: String {
      switch self {
      case .offsetDateTime: "datetime"
      case .localDateTime: "datetime-local"
      case .localDate: "date-local"
      case .localTime: "time-local"
      }
    }
  }

  /// Which form.
  public var form: Form
  /// Year, month and day; zero for a local time.
  public var year: Int, month: Int, day: Int
  /// Hour, minute, second; zero for a local date.
  public var hour: Int, minute: Int, second: Int
  /// Fractional seconds as written, in nanoseconds (extra digits truncated).
  public var nanosecond: Int
  /// Offset from UTC in minutes, for an offset date-time.
  public var offsetMinutes: Int?
  /// How many fraction digits were written (at most 9), so output can keep `.500` as written.
  public var fractionDigits: Int

  /// Creates a date-time from its components.
  public init(
    form: Form, year: Int = 0, month: Int = 0, day: Int = 0, hour: Int = 0, minute: Int = 0, second: Int = 0,
    nanosecond: Int = 0, offsetMinutes: Int? = nil, fractionDigits: Int = 0
  ) {
    self.form = form
    self.year = year
    self.month = month
    self.day = day
    self.hour = hour
    self.minute = minute
    self.second = second
    self.nanosecond = nanosecond
    self.offsetMinutes = offsetMinutes
    self.fractionDigits = fractionDigits
  }
}

/// A TOML table: its entries in source order, each key with its span.
public struct TOMLTable: Sendable {
  /// One `key = value` of a table (or a sub-table defined by a header or a dotted key).
  public struct Entry: Sendable {
    /// The key's decoded text (quotes and escapes resolved).
    public var key: String
    /// The span of the key as written (the last segment of a dotted key or header).
    public var keySpan: SourceSpan
    /// The value.
    public var value: TOMLValue

    /// Creates an entry.
    public init(key: String, keySpan: SourceSpan, value: TOMLValue) {
      self.key = key
      self.keySpan = keySpan
      self.value = value
    }
  }

  /// How the table came to be; decides which redefinitions TOML allows.
  public enum Origin: Sendable, Equatable {
    /// The document's root table.
    case root
    /// `[a.b]` header.
    case header
    /// An element of `[[a.b]]`.
    case arrayElement
    /// `{ ... }` inline table (never extendable).
    case inline
    /// Created implicitly by a dotted key `a.b = 1`.
    case dotted
    /// Created implicitly as the parent of a header `[a.b]` (may be defined later by `[a]`).
    case implicit
  }

  /// The entries in the order they were defined.
  public var entries: [Entry]
  /// How the table was created.
  public var origin: Origin

  /// Creates a table.
  public init(entries: [Entry] = [], origin: Origin) {
    self.entries = entries
    self.origin = origin
  }

  /// The entry for `key`, if defined.
  public func entry(_ key: String) -> Entry? {
    entries.first { $0.key == key }
  }

  /// The value for `key`, if defined.
  public subscript(key: String) -> TOMLValue? {
    entry(key)?.value
  }
}
