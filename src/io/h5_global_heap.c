/* Global heap objects looked up in the file's bytes, the way libhdf5 1.10 finds them.
 *
 * A variable-length value's descriptor names a heap collection ("GCOL") and an
 * object index in it. libhdf5 1.10 copies the object into a buffer sized by the
 * descriptor's length without checking that the index was ever stored, that the
 * object lies inside its collection, or that it is no longer than the length (only
 * debug-build assertions): a crafted index or size makes it read and write past its
 * buffers, differently from one process to the next, so no preflight child can stand
 * in for the check. The collection's object headers are walked here as libhdf5's
 * parser walks them (same order, a repeated index replacing the earlier one), with
 * the file read through a descriptor of our own. File format: HDF5 specification,
 * "Global Heap". */
#define _POSIX_C_SOURCE 200809L
#include "io/h5util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW_BYTES (64u << 10)
#define COLLECTION_MAX ((uint64_t)64 << 20)  /* larger ones hold values no reader of ours takes */
#define SIGNATURE "GCOL"
#define VERSION 1

struct sn_h5_heap {
  int fd;
  uint64_t base;          /* where the file's addresses count from (after a user block) */
  unsigned length_size;   /* bytes of an encoded length (the superblock's "size of lengths") */
  uint64_t window_start;  /* file offset of window[0] */
  size_t window_len;
  unsigned char window[WINDOW_BYTES];
};

static uint64_t align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

uint64_t sn_h5_decode_le(const unsigned char *p, size_t bytes) {
  uint64_t v = 0;
  for (size_t b = 0; b < bytes && b < 8; b++) v |= (uint64_t)p[b] << (8 * b);
  return bytes > 8 ? UINT64_MAX : v;  /* wider than 8 bytes: nothing real */
}

/* n (at most 16) bytes at file offset `at` into out, through a window of the file. */
static int read_at(sn_h5_heap *heap, uint64_t at, size_t n, unsigned char *out) {
  if (at < heap->window_start || at + n > heap->window_start + heap->window_len) {
    if (at > (uint64_t)INT64_MAX - WINDOW_BYTES) return -1;
    const ssize_t got = pread(heap->fd, heap->window, WINDOW_BYTES, (off_t)at);
    if (got < 0) return -1;
    heap->window_start = at;
    heap->window_len = (size_t)got;
    if (n > heap->window_len) return -1;
  }
  memcpy(out, heap->window + (at - heap->window_start), n);
  return 0;
}

int sn_h5_heap_open(hid_t loc, sn_h5_heap **out) {
  *out = NULL;
  hid_t file = H5Iget_file_id(loc);
  hid_t fcpl = file < 0 ? -1 : H5Fget_create_plist(file);
  unsigned intent = 0;
  size_t addr_size = 0, length_size = 0;
  hsize_t user_block = 0;
  int st = fcpl >= 0 && H5Fget_intent(file, &intent) >= 0 && H5Pget_sizes(fcpl, &addr_size, &length_size) >= 0 &&
                   H5Pget_userblock(fcpl, &user_block) >= 0 ? 0 : -1;
  /* A file open for writing is one of shardnet's outputs being extended; its heap may
   * still be in libhdf5's cache and not yet on disk. */
  if (st == 0 && !(intent & H5F_ACC_RDWR)) {
    const ssize_t name_len = H5Fget_name(file, NULL, 0);
    char *name = name_len > 0 ? malloc((size_t)name_len + 1) : NULL;
    sn_h5_heap *heap = name ? malloc(sizeof *heap) : NULL;
    st = heap && H5Fget_name(file, name, (size_t)name_len + 1) >= 0 ? 0 : -1;
    if (st == 0) {
      *heap = (sn_h5_heap){.fd = open(name, O_RDONLY), .base = user_block, .length_size = (unsigned)length_size};
      st = heap->fd >= 0 ? 0 : -1;
    }
    if (st == 0) *out = heap;
    else free(heap);
    free(name);
  }
  if (fcpl >= 0) H5Pclose(fcpl);
  if (file >= 0) H5Fclose(file);
  return st;
}

void sn_h5_heap_close(sn_h5_heap *heap) {
  if (!heap) return;
  close(heap->fd);
  free(heap);
}

int sn_h5_heap_object_size(sn_h5_heap *heap, uint64_t collection, uint32_t index, uint64_t *size) {
  const unsigned ls = heap->length_size;
  const uint64_t header_size = align8(8 + ls), object_header = 8 + ls;  /* the latter unpadded */
  unsigned char bytes[16];
  if (index == 0 || ls == 0 || ls > 8 || collection > UINT64_MAX - heap->base - COLLECTION_MAX) return -1;
  const uint64_t at = heap->base + collection;
  if (read_at(heap, at, (size_t)(8 + ls), bytes) < 0 || memcmp(bytes, SIGNATURE, 4) != 0 || bytes[4] != VERSION)
    return -1;
  const uint64_t end = sn_h5_decode_le(bytes + 8, ls);
  if (end > COLLECTION_MAX) return -1;
  int found = 0;
  uint64_t begin = 0, found_size = 0;
  for (uint64_t p = header_size; p < end;) {
    if (end - p < object_header) break;  /* the tail: free space without a header */
    if (read_at(heap, at + p, (size_t)object_header, bytes) < 0) return -1;
    const unsigned idx = (unsigned)sn_h5_decode_le(bytes, 2);
    const uint64_t object_size = sn_h5_decode_le(bytes + 8, ls);
    if (idx == index) found = 1, begin = p, found_size = object_size;
    /* object 0 is the free space, its size counts its header and is not padded */
    const uint64_t need = idx > 0 ? (object_size > end ? end : object_header + align8(object_size)) : object_size;
    if (need == 0) return -1;  /* libhdf5 would read this header forever */
    p = need > end - p ? end : p + need;
  }
  if (!found || found_size > end - begin - object_header) return -1;
  *size = found_size;
  return 0;
}
