/// A ``ScrubCatalog`` whose operations are carried somewhere else (the lease service's client):
/// it implements ``send(_:_:)`` alone, and every requirement of ``ScrubCatalog`` comes from its
/// operation's declaration (``CatalogOperations``), which sends that operation's request.
public protocol CatalogTransport: ScrubCatalog {
    /// Sends one operation's request and returns its answer.
    /// - Throws: ``CatalogError``, ``RestoreRefusal``, as the catalog at the other end threw.
    func send<Operation: CatalogOperation>(_ operation: Operation.Type, _ request: Operation.Request) async throws -> Operation.Answer
}
