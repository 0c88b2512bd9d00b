#include "server/charge.h"

#include <cmath>
#include <iterator>

namespace regionlab::server {
namespace {

// Azure's "Request Unit considerations" table: document size (KB) -> RU of
// a session-consistency point read and of a write, with default indexing.
struct Point {
  double kb, read, write;
};
constexpr Point kTable[] = {
    {1, 1.00, 4.95},     {2, 1.04, 6.29},     {4, 1.14, 6.67},      {8, 1.33, 7.04},
    {16, 1.67, 9.52},    {32, 2.19, 11.23},   {64, 4.76, 22.67},    {128, 9.95, 48.19},
    {256, 20.28, 98.29}, {512, 40.95, 184.57}, {1024, 145.9, 625.0}, {2048, 291.8, 1250.0},
};

double Interpolate(size_t bytes, double Point::*field) {
  const double kb = static_cast<double>(bytes) / 1024.0;
  if (kb <= kTable[0].kb) return kTable[0].*field;
  for (size_t i = 1; i < std::size(kTable); ++i) {
    if (kb <= kTable[i].kb) {
      const Point& a = kTable[i - 1];
      const Point& b = kTable[i];
      return a.*field + (b.*field - a.*field) * (kb - a.kb) / (b.kb - a.kb);
    }
  }
  const Point& last = kTable[std::size(kTable) - 1];
  return last.*field * kb / last.kb;  // beyond 2 MB (not a valid document): proportional
}

}  // namespace

double ReadCharge(size_t bytes) { return Interpolate(bytes, &Point::read); }
double CreateCharge(size_t bytes) { return Interpolate(bytes, &Point::write); }

double QueryCharge(uint64_t documents_examined, size_t bytes_returned) {
  double ru = 2.3 + 0.025 * static_cast<double>(documents_examined);
  if (bytes_returned > 1024) ru += ReadCharge(bytes_returned) - 1.0;
  return ru;
}

double RoundCharge(double ru) { return std::round(ru * 100.0) / 100.0; }

}  // namespace regionlab::server
