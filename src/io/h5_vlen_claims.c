/* What an attribute's variable-length values claim to hold, read before libhdf5
 * follows them.
 *
 * A variable-length value is stored as a 4-byte length and a global-heap reference.
 * To convert one, libhdf5 1.10 allocates and clears a buffer of the claimed length
 * (and then the value itself) before it reads the heap object and finds it shorter:
 * a crafted length costs a reader gigabytes for a file of kilobytes. No public call
 * tells an attribute's lengths, so a conversion of our own ("raw descriptors",
 * registered once) copies each stored descriptor unchanged into an opaque type of
 * the same size, and the 4-byte lengths are read from those. Each one's heap object
 * is then looked up in the file (io/h5_global_heap.c): libhdf5 1.10 copies the object
 * whole into a buffer of the claimed length. */
#include "io/h5util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAW_TAG "shardnet: stored variable-length descriptors"
/* HDF5 file format: a variable-length value is stored as its length (4 bytes), its
 * global heap collection's address and the object's index there (4 bytes), all
 * little-endian */
#define LENGTH_BYTES 4
#define INDEX_BYTES 4

static int is_raw_type(hid_t type) {
  if (H5Tget_class(type) != H5T_OPAQUE) return 0;
  char *tag = H5Tget_tag(type);
  const int ours = tag && strcmp(tag, RAW_TAG) == 0;
  H5free_memory(tag);
  return ours;
}

/* A variable-length value at the top of a type: libhdf5 stores these as descriptors. */
static int is_variable(hid_t type) { return H5Tget_class(type) == H5T_VLEN || H5Tis_variable_str(type) > 0; }

/* The descriptors are taken as they are stored: the opaque destination has the
 * source's size, so HDF5's buffer already holds the result. */
static herr_t keep_descriptors(hid_t src, hid_t dst, H5T_cdata_t *cdata, size_t n, size_t buf_stride,
                               size_t bkg_stride, void *buf, void *bkg, hid_t dxpl) {
  (void)n, (void)buf_stride, (void)bkg_stride, (void)buf, (void)bkg, (void)dxpl;
  cdata->need_bkg = H5T_BKG_NO;
  if (cdata->command != H5T_CONV_INIT) return 0;
  return is_variable(src) && is_raw_type(dst) && H5Tget_size(src) == H5Tget_size(dst) ? 0 : -1;
}

static herr_t registered = -1;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

/* Soft conversions are matched by class: vlen strings are of class string. */
static void register_conversion(void) {
  hid_t opaque = H5Tcreate(H5T_OPAQUE, 1), string = H5Tcopy(H5T_C_S1), bytes = H5Tvlen_create(H5T_NATIVE_UCHAR);
  H5Tset_size(string, H5T_VARIABLE);
  registered = H5Tregister(H5T_PERS_SOFT, "shardnet raw descriptors", string, opaque, keep_descriptors);
  if (registered >= 0)
    registered = H5Tregister(H5T_PERS_SOFT, "shardnet raw descriptors", bytes, opaque, keep_descriptors);
  H5Tclose(bytes);
  H5Tclose(string);
  H5Tclose(opaque);
}

/* Whether type holds a variable-length value anywhere inside (a compound member, an
 * array's element). */
static int holds_variable(hid_t type) {
  if (is_variable(type)) return 1;
  const H5T_class_t cls = H5Tget_class(type);
  int found = 0;
  if (cls == H5T_COMPOUND) {
    const int members = H5Tget_nmembers(type);
    for (int m = 0; m < members && !found; m++) {
      hid_t member = H5Tget_member_type(type, (unsigned)m);
      found = member < 0 || holds_variable(member);
      if (member >= 0) H5Tclose(member);
    }
  } else if (cls == H5T_ARRAY) {
    hid_t base = H5Tget_super(type);
    found = base < 0 || holds_variable(base);
    if (base >= 0) H5Tclose(base);
  }
  return found;
}

/* Bytes one unit of a top-level variable-length type claims per length: 1 for a
 * string, the element's size for a sequence (0 when that element is variable too). */
static size_t unit_size(hid_t type) {
  if (H5Tis_variable_str(type) > 0) return 1;
  hid_t base = H5Tget_super(type);
  const size_t size = base < 0 || holds_variable(base) ? 0 : H5Tget_size(base);
  if (base >= 0) H5Tclose(base);
  return size;
}

/* Adds the stored descriptors' claims; a value whose heap object does not match its
 * descriptor marks the claims damaged (heap NULL: not looked up). */
static void add_claims(const uint8_t *descriptors, size_t count, size_t each, size_t unit, sn_h5_heap *heap,
                       sn_h5_vlen_claims *claims) {
  const size_t addr_bytes = each - LENGTH_BYTES - INDEX_BYTES;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *d = descriptors + i * each;
    const size_t length = (size_t)sn_h5_decode_le(d, LENGTH_BYTES);
    const size_t bytes = length > SIZE_MAX / unit ? SIZE_MAX : length * unit;
    if (bytes > claims->largest) claims->largest = bytes;
    claims->total = bytes > SIZE_MAX - claims->total ? SIZE_MAX : claims->total + bytes;
    const uint64_t collection = sn_h5_decode_le(d + LENGTH_BYTES, addr_bytes);
    const uint32_t index = (uint32_t)sn_h5_decode_le(d + LENGTH_BYTES + addr_bytes, INDEX_BYTES);
    uint64_t stored;
    /* address 0 is a null value, which libhdf5 does not follow; libhdf5 stores exactly
     * the claimed bytes, and copies the object whole: a longer one overruns, a shorter
     * one leaves the rest of the value uninitialised */
    if (heap && collection != 0 &&
        (sn_h5_heap_object_size(heap, collection, index, &stored) < 0 || stored != bytes))
      claims->damaged = 1;
  }
}

int sn_h5_attr_vlen_claims(hid_t attr, sn_h5_vlen_claims *claims) {
  *claims = (sn_h5_vlen_claims){0, 0, 0};
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  const hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  int known = type >= 0 && count >= 0;
  if (known && !is_variable(type)) {
    known = !holds_variable(type);  /* nothing claimed, or claims nested where we do not look */
  } else if (known && count > 0) {
    const size_t unit = unit_size(type);
    const hsize_t stored = H5Aget_storage_size(attr);
    const size_t each = (size_t)(stored / (hsize_t)count);
    pthread_once(&register_once, register_conversion);
    hid_t raw = -1;
    uint8_t *descriptors = NULL;
    sn_h5_heap *heap = NULL;
    known = unit > 0 && registered >= 0 && stored % (hsize_t)count == 0 && each > LENGTH_BYTES + INDEX_BYTES &&
            each <= LENGTH_BYTES + INDEX_BYTES + 8;
    if (known) {
      raw = H5Tcreate(H5T_OPAQUE, each);
      descriptors = malloc((size_t)stored);
      known = raw >= 0 && descriptors && H5Tset_tag(raw, RAW_TAG) >= 0 && H5Aread(attr, raw, descriptors) >= 0 &&
              sn_h5_heap_open(attr, &heap) == 0;
    }
    if (known) add_claims(descriptors, (size_t)count, each, unit, heap, claims);
    sn_h5_heap_close(heap);
    free(descriptors);
    if (raw >= 0) H5Tclose(raw);
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  return known ? 0 : -1;
}
