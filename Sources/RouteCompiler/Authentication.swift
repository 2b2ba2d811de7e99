import RouteSpec

/// How a presented key (or its absence) authenticates a request.
public enum Authentication: Sendable, Equatable {
  /// Auth is off and no known key was presented.
  case anonymous
  /// The key belongs to this client.
  case client(Int)
  /// Auth is required and no key was presented: 403 PERMISSION_DENIED.
  case missingKey
  /// Auth is required and the key is unknown: 400 INVALID_ARGUMENT (API_KEY_INVALID).
  case invalidKey

  /// The client index, if authenticated.
  public var clientIndex: Int? {
    if case .client(let index) = self { return index }
    return nil
  }
}

extension RouteTable {
  /// Authenticates a presented key per `[server] auth`.
  public func authenticate(key: String?) -> Authentication {
    guard let key, !key.isEmpty else { return server.auth == .required ? .missingKey : .anonymous }
    if let client = client(forKey: key) { return .client(client) }
    return server.auth == .required ? .invalidKey : .anonymous
  }
}
