/*
 * Host-only shim (not part of the firmware core): flat functions for the Python ctypes
 * wrapper (firmware_bridge/firmware_core.py), so Python never mirrors struct layouts.
 */
#include "../plantar_fw.h"

#include <string.h>

typedef void (*host_select_row_fn)(void *ctx, uint16_t row);
typedef uint16_t (*host_read_column_fn)(void *ctx, uint16_t col);
typedef void (*host_read_shear_fn)(void *ctx, int16_t *out, uint8_t n_shear);

size_t plantar_host_dev_size(void) { return sizeof(plantar_dev); }
size_t plantar_host_packer_size(void) { return sizeof(plantar_packer); }
uint32_t plantar_host_max_sensels(void) { return PLANTAR_MAX_SENSELS; }

int32_t plantar_host_dev_init(plantar_dev *d, uint16_t device_id, uint8_t foot, uint16_t n_rows,
                              uint16_t n_cols, const int16_t *sensel_of_cell, uint16_t n_sensels,
                              uint8_t n_shear, uint16_t rate_hz, uint16_t min_rate_hz,
                              uint16_t max_rate_hz, uint16_t threshold_counts, int encoding,
                              int start_streaming, const char *firmware_version,
                              const char *layout_id, const char *calibration_id,
                              host_select_row_fn select_row, host_read_column_fn read_column,
                              host_read_shear_fn read_shear, plantar_write_fn write) {
    plantar_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.device_id = device_id;
    cfg.foot = foot;
    cfg.n_rows = n_rows;
    cfg.n_cols = n_cols;
    cfg.sensel_of_cell = sensel_of_cell;
    cfg.n_sensels = n_sensels;
    cfg.n_shear = n_shear;
    cfg.rate_hz = rate_hz;
    cfg.min_rate_hz = min_rate_hz;
    cfg.max_rate_hz = max_rate_hz;
    cfg.threshold_counts = threshold_counts;
    cfg.encoding = encoding;
    cfg.start_streaming = start_streaming != 0;
    cfg.firmware_version = firmware_version;
    cfg.layout_id = layout_id;
    cfg.calibration_id = calibration_id;
    plantar_adc adc;
    memset(&adc, 0, sizeof adc);
    adc.select_row = select_row;
    adc.read_column = read_column;
    adc.read_shear = read_shear;
    return plantar_dev_init(d, &cfg, &adc, write, NULL);
}

uint32_t plantar_host_dev_seq(const plantar_dev *d) { return d->seq; }
void plantar_host_dev_set_seq(plantar_dev *d, uint32_t seq) { d->seq = seq; }
uint32_t plantar_host_dev_samples(const plantar_dev *d) { return d->samples; }
uint32_t plantar_host_dev_overruns(const plantar_dev *d) { return d->overruns; }
uint32_t plantar_host_dev_write_errors(const plantar_dev *d) { return d->write_errors; }
const uint16_t *plantar_host_dev_counts(const plantar_dev *d) { return d->counts; }
const uint16_t *plantar_host_dev_tare(const plantar_dev *d) { return d->tare; }
uint32_t plantar_host_dev_rx_rejected(const plantar_dev *d) { return d->rx.rejected; }
int plantar_host_dev_streaming(const plantar_dev *d) { return d->streaming ? 1 : 0; }

uint32_t plantar_host_packer_sent(const plantar_packer *p) { return p->sent; }
uint32_t plantar_host_packer_dropped(const plantar_packer *p) { return p->dropped; }
