// The merge procedure from the invoice story: when the same invoice is
// written in two regions at once, keep the version written in the invoice's
// home region; if both (or neither) were, keep the one with the smaller
// idempotency key, so that every region picks the same one.
//
// Register it as a stored procedure of the invoices container and name it in
// the container's policy:
//   {"mode": "Custom", "conflictResolutionProcedure": "dbs/billing/colls/invoices/sprocs/resolveInvoiceConflict"}
//
// It runs unchanged on Azure Cosmos DB and on regionlab.
function resolveInvoiceConflict(incomingItem, existingItem, isTombstone, conflictingItems) {
  var collection = getContext().getCollection();

  if (isTombstone) {
    return; // a delete stands
  }
  if (!existingItem) {
    // Nothing committed (it was deleted): the incoming invoice is the only one.
    collection.createDocument(collection.getSelfLink(), incomingItem, function (err) {
      if (err) throw err;
    });
    return;
  }

  var candidates = [existingItem, incomingItem].concat(conflictingItems || []);
  var winner = candidates[0];
  for (var i = 1; i < candidates.length; i++) {
    if (better(candidates[i], winner)) winner = candidates[i];
  }
  if (winner === existingItem) {
    return; // the committed invoice stands
  }
  collection.replaceDocument(existingItem._self, winner, function (err) {
    if (err) throw err;
  });

  function fromHomeRegion(invoice) {
    return invoice.homeRegion !== undefined && invoice.writtenIn === invoice.homeRegion;
  }

  function better(a, b) {
    var homeA = fromHomeRegion(a), homeB = fromHomeRegion(b);
    if (homeA !== homeB) return homeA;
    return String(a.idempotencyKey) < String(b.idempotencyKey);
  }
}
