/// The kind of a metric family, as its `# TYPE` line says it.
public enum MetricType: String, Sendable {
  case counter
  case gauge
  case histogram
}

/// A Prometheus text exposition (format 0.0.4), written family by family: `# HELP` and `# TYPE` lines, then the
/// family's samples. Label values and help texts are escaped here and nowhere else.
public struct PrometheusText: Sendable {
  /// The `Content-Type` of an exposition.
  public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

  /// The exposition so far.
  public private(set) var text = ""

  /// An empty exposition.
  public init() {}

  /// Starts a family: its help line (escaped) and its type.
  public mutating func family(_ name: String, _ type: MetricType, help: String) {
    text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
  }

  /// One sample with a whole value.
  public mutating func sample(_ name: String, labels: [(String, String)] = [], _ value: Int) {
    line(name, labels, String(value))
  }

  /// One sample with a real value.
  public mutating func sample(_ name: String, labels: [(String, String)] = [], _ value: Double) {
    line(name, labels, Self.format(value))
  }

  /// A histogram's samples: cumulative `_bucket` lines ending with `le="+Inf"`, then `_sum` and `_count`.
  public mutating func histogram(_ name: String, labels: [(String, String)] = [], _ histogram: Histogram) {
    var cumulative: UInt64 = 0
    for (index, count) in histogram.counts.enumerated() {
      cumulative &+= count
      let bound = index < histogram.bounds.count ? Self.format(histogram.bounds[index]) : "+Inf"
      line(name + "_bucket", labels + [("le", bound)], String(cumulative))
    }
    line(name + "_sum", labels, Self.format(histogram.sum))
    line(name + "_count", labels, String(histogram.count))
  }

  private mutating func line(_ name: String, _ labels: [(String, String)], _ value: String) {
    text += name
    if !labels.isEmpty {
      text += "{"
      for (index, (label, labelValue)) in labels.enumerated() {
        if index > 0 { text += "," }
        text += "\(label)=\"\(Self.escapeLabelValue(labelValue))\""
      }
      text += "}"
    }
    text += " \(value)\n"
  }

  /// A label value as the format writes it: backslash, double quote and line feed escaped.
  public static func escapeLabelValue(_ value: String) -> String {
    guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
    var out = ""
    for character in value.unicodeScalars {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(character)
      }
    }
    return out
  }

  /// A help text as the format writes it: backslash and line feed escaped (quotes stay as they are).
  public static func escapeHelp(_ help: String) -> String {
    var out = ""
    for character in help.unicodeScalars {
      switch character {
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(character)
      }
    }
    return out
  }

  /// A real number as the format writes it: `+Inf`, `-Inf`, `NaN`, or Swift's shortest round-trip form.
  public static func format(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    return value.description
  }
}

/// A histogram with fixed upper bounds: one count per bucket (not cumulative; the exposition adds them up),
/// the sum and the count of the observations.
public struct Histogram: Sendable, Equatable {
  /// Upper bounds, ascending; the `+Inf` bucket is implied.
  public let bounds: [Double]
  /// Observations per bucket: `counts[i]` those at most `bounds[i]` and above the bound before; the last
  /// entry those above every bound.
  public private(set) var counts: [UInt64]
  /// The sum of the observations.
  public private(set) var sum: Double = 0
  /// How many observations there were.
  public private(set) var count: UInt64 = 0

  /// An empty histogram with these upper bounds (sorted ascending, `+Inf` and NaN left out).
  public init(bounds: [Double]) {
    self.bounds = bounds.filter(\.isFinite).sorted()
    counts = Array(repeating: 0, count: self.bounds.count + 1)
  }

  /// Counts `value`; a NaN or infinite value is not an observation and is ignored.
  public mutating func observe(_ value: Double) {
    guard value.isFinite else { return }
    // Linear: a dozen bounds, and most observations fall into the first few buckets.
    var index = 0
    while index < bounds.count, value > bounds[index] { index += 1 }
    counts[index] &+= 1
    count &+= 1
    sum += value
  }
}
