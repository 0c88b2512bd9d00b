// Request charges: the request units (RU) a request costs, modelled on the
// figures Azure Cosmos DB publishes ("Request Units", "Optimize request
// cost"; the table is in docs/cosmos-features.md). Pure functions, no state.
//
//   point read of a document of `bytes`: 1 RU up to 1 KB, growing with size
//     along Azure's table (about 10 RU at 128 KB);
//   create (or upsert that creates) of `bytes`: about 5 RU at 1 KB, 48 at
//     128 KB, 1250 at 2 MB, along the same table;
//   replace, patch and upsert over an existing document: twice a create (the
//     old version's index terms are removed and the new ones added);
//   delete: a create of the deleted document's size;
//   query: 2.3 RU, plus 0.025 RU per document examined, plus the read charge
//     of what the page returns beyond its first KB.
// Sizes between the table's points are interpolated linearly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace regionlab::server {

double ReadCharge(size_t bytes);
double CreateCharge(size_t bytes);
inline double ReplaceCharge(size_t bytes) { return 2 * CreateCharge(bytes); }
inline double DeleteCharge(size_t bytes) { return CreateCharge(bytes); }
double QueryCharge(uint64_t documents_examined, size_t bytes_returned);
// Rounded to two decimals, as Azure reports x-ms-request-charge.
double RoundCharge(double ru);

}  // namespace regionlab::server
