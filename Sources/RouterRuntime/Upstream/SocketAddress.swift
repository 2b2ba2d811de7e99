import Glibc

/// A TCP endpoint: an IPv4 or IPv6 address with a port (and, for IPv6, the interface scope of a link-local
/// address). Compared and hashed by its bytes; the description is the URL authority form (`1.2.3.4:80`,
/// `[::1]:443`, `[fe80::1%2]:80` with a numeric scope).
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
  case ipv4(in_addr, port: UInt16)
  case ipv6(in6_addr, port: UInt16, scopeID: UInt32)

  /// The longest text `inet_pton` can accept (an IPv6 address with an embedded IPv4 tail, plus the NUL);
  /// longer input is rejected before it reaches C.
  private static let longestLiteral = Int(INET6_ADDRSTRLEN)

  /// Parses a numeric host as URLs write it: `127.0.0.1`, `::1`, or the bracketed `[::1]`, with no lookup.
  /// Nil for names, for a bracketed IPv4 address, for zone identifiers, and for anything `inet_pton` rejects
  /// (`inet_pton` takes only the strict dotted quad, so `127.1` and `0x7f.0.0.1` are not literals).
  public init?(literal host: String, port: UInt16) {
    // Bytes, not `Character`s: this runs for every request to a backend named by its address, and a
    // literal is ASCII (anything else fails `inet_pton` either way), so a bracket byte is a bracket.
    var text = host.utf8[...]
    let bracketed = text.first == UInt8(ascii: "[") || text.last == UInt8(ascii: "]")
    if bracketed {
      guard text.count >= 2, text.first == UInt8(ascii: "["), text.last == UInt8(ascii: "]") else { return nil }
      text = text.dropFirst().dropLast()
    }
    // A NUL would end the C string early and let `127.0.0.1\0junk` parse as 127.0.0.1.
    guard !text.isEmpty, text.count < Self.longestLiteral, !text.contains(0) else { return nil }
    let literal = String(Substring(text))
    if !bracketed {
      var address = in_addr()
      if inet_pton(AF_INET, literal, &address) == 1 {
        self = .ipv4(address, port: port)
        return
      }
    }
    var address6 = in6_addr()
    guard inet_pton(AF_INET6, literal, &address6) == 1 else { return nil }
    self = .ipv6(address6, port: port, scopeID: 0)
  }

  /// Reads a `sockaddr_in` or `sockaddr_in6` of at least its own size, taking the port from it; nil for any
  /// other family or a short length.
  init?(_ raw: UnsafePointer<sockaddr>, length: socklen_t) {
    let length = Int(length)
    switch Int32(raw.pointee.sa_family) {
    case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
      let value = UnsafeRawPointer(raw).loadUnaligned(as: sockaddr_in.self)
      self = .ipv4(value.sin_addr, port: UInt16(bigEndian: value.sin_port))
    case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
      let value = UnsafeRawPointer(raw).loadUnaligned(as: sockaddr_in6.self)
      self = .ipv6(value.sin6_addr, port: UInt16(bigEndian: value.sin6_port), scopeID: value.sin6_scope_id)
    default:
      return nil
    }
  }

  /// `AF_INET` or `AF_INET6`.
  public var family: Int32 {
    switch self {
    case .ipv4: AF_INET
    case .ipv6: AF_INET6
    }
  }

  /// The port, host order.
  public var port: UInt16 {
    switch self {
    case .ipv4(_, let port), .ipv6(_, let port, _): port
    }
  }

  /// The same address with another port (a cached lookup serves every port of a host).
  public func withPort(_ port: UInt16) -> SocketAddress {
    switch self {
    case .ipv4(let address, _): .ipv4(address, port: port)
    case .ipv6(let address, _, let scopeID): .ipv6(address, port: port, scopeID: scopeID)
    }
  }

  /// The address without brackets or port: `127.0.0.1`, `::1`.
  public var host: String {
    var buffer = [CChar](repeating: 0, count: Self.longestLiteral)
    let written: Bool =
      switch self {
      case .ipv4(var address, _): inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count)) != nil
      case .ipv6(var address, _, _): inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil
      }
    // inet_ntop fails only for a short buffer, which INET6_ADDRSTRLEN rules out.
    guard written else { return "?" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public var description: String {
    switch self {
    case .ipv4(_, let port): "\(host):\(port)"
    case .ipv6(_, let port, let scopeID): scopeID == 0 ? "[\(host)]:\(port)" : "[\(host)%\(scopeID)]:\(port)"
    }
  }

  /// Calls `body` with this address as a `sockaddr` and its length (for connect and bind).
  public func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    switch self {
    case .ipv4(let address, let port):
      var target = sockaddr_in()
      target.sin_family = sa_family_t(AF_INET)
      target.sin_port = in_port_t(port.bigEndian)
      target.sin_addr = address
      return withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    case .ipv6(let address, let port, let scopeID):
      var target = sockaddr_in6()
      target.sin6_family = sa_family_t(AF_INET6)
      target.sin6_port = in_port_t(port.bigEndian)
      target.sin6_addr = address
      target.sin6_scope_id = scopeID
      return withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
      }
    }
  }

  public static func == (left: SocketAddress, right: SocketAddress) -> Bool {
    switch (left, right) {
    case (.ipv4(let a, let portA), .ipv4(let b, let portB)):
      a.s_addr == b.s_addr && portA == portB
    case (.ipv6(let a, let portA, let scopeA), .ipv6(let b, let portB, let scopeB)):
      portA == portB && scopeA == scopeB
        && withUnsafeBytes(of: a) { bytesA in withUnsafeBytes(of: b) { bytesA.elementsEqual($0) } }
    default:
      false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case .ipv4(let address, let port):
      hasher.combine(4 as UInt8)
      hasher.combine(address.s_addr)
      hasher.combine(port)
    case .ipv6(let address, let port, let scopeID):
      hasher.combine(6 as UInt8)
      withUnsafeBytes(of: address) { hasher.combine(bytes: $0) }
      hasher.combine(port)
      hasher.combine(scopeID)
    }
  }
}
