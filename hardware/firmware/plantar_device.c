/*
 * Plantar firmware core: one insole. Fixed-rate scanning of a multiplexed sensel
 * matrix through the board's plantar_adc interface, tare, the sequence counter, DATA
 * and INFO framing, CONTROL handling and ACKs (PROTOCOL.md sections 2, 6-8).
 */
#include "plantar_fw.h"

#include <string.h>

#define INFO_PERIOD_US 1000000u

static uint32_t period_for(uint16_t rate_hz) {
    return (uint32_t)((1000000u + rate_hz / 2u) / rate_hz);
}

int32_t plantar_dev_init(plantar_dev *d, const plantar_config *cfg, const plantar_adc *adc,
                         plantar_write_fn write, void *write_ctx) {
    if (!d || !cfg || !adc || !adc->select_row || (!adc->read_column && !adc->read_row) ||
        !write) {
        return PLANTAR_ERR_ARG;
    }
    if (cfg->n_sensels < 1 || cfg->n_sensels > PLANTAR_MAX_SENSELS ||
        cfg->n_shear > PLANTAR_MAX_SHEAR || cfg->foot > 1 || !cfg->sensel_of_cell ||
        cfg->n_rows == 0 || cfg->n_cols == 0 || cfg->n_cols > PLANTAR_MAX_COLS ||
        cfg->min_rate_hz == 0 ||
        cfg->min_rate_hz > cfg->max_rate_hz || cfg->rate_hz < cfg->min_rate_hz ||
        cfg->rate_hz > cfg->max_rate_hz || cfg->encoding < PLANTAR_ENC_AUTO ||
        cfg->encoding > PLANTAR_ENC_SPARSE12) {
        return PLANTAR_ERR_ARG;
    }
    /* every sensel exactly once in the matrix map */
    memset(d, 0, sizeof *d);
    const uint32_t cells = (uint32_t)cfg->n_rows * cfg->n_cols;
    for (uint32_t i = 0; i < cells; i++) {
        const int16_t s = cfg->sensel_of_cell[i];
        if (s < 0) continue;
        if (s >= (int32_t)cfg->n_sensels || d->counts[s]) return PLANTAR_ERR_ARG;
        d->counts[s] = 1; /* scratch: seen */
    }
    for (uint32_t s = 0; s < cfg->n_sensels; s++) {
        if (!d->counts[s]) return PLANTAR_ERR_ARG;
    }
    memset(d->counts, 0, sizeof d->counts);
    d->cfg = *cfg;
    d->adc = *adc;
    d->write = write;
    d->write_ctx = write_ctx;
    d->rate_hz = cfg->rate_hz;
    d->period_us = period_for(cfg->rate_hz);
    d->streaming = cfg->start_streaming;
    d->info_due = true;
    plantar_rx_init(&d->rx);
    return 0;
}

/* Select row r and read its raw values into d->row_raw (unused cells: not converted). */
static const int16_t *read_row(plantar_dev *d, uint16_t r) {
    const uint16_t n_cols = d->cfg.n_cols;
    const int16_t *row = d->cfg.sensel_of_cell + (uint32_t)r * n_cols;
    d->adc.select_row(d->adc.ctx, r);
    if (d->adc.read_row) {
        d->adc.read_row(d->adc.ctx, r, d->row_raw, n_cols);
    } else {
        for (uint16_t c = 0; c < n_cols; c++) {
            if (row[c] >= 0) d->row_raw[c] = d->adc.read_column(d->adc.ctx, c);
        }
    }
    return row;
}

void plantar_dev_tare(plantar_dev *d, uint16_t n_scans) {
    if (n_scans == 0) n_scans = 1;
    uint32_t *sum = d->work.tare_sum;
    memset(sum, 0, sizeof d->work.tare_sum);
    for (uint16_t i = 0; i < n_scans; i++) {
        for (uint16_t r = 0; r < d->cfg.n_rows; r++) {
            const int16_t *row = read_row(d, r);
            for (uint16_t c = 0; c < d->cfg.n_cols; c++) {
                if (row[c] >= 0) sum[row[c]] += d->row_raw[c];
            }
        }
        if (d->adc.scan_done) d->adc.scan_done(d->adc.ctx);
    }
    for (uint32_t s = 0; s < d->cfg.n_sensels; s++) {
        d->tare[s] = (uint16_t)((sum[s] + n_scans / 2u) / n_scans);
    }
}

void plantar_dev_scan(plantar_dev *d) {
    const uint32_t threshold = d->cfg.threshold_counts;
    const uint32_t n_rows = d->cfg.n_rows, n_cols = d->cfg.n_cols;
    const uint16_t *raw = d->row_raw, *tare = d->tare;
    uint16_t *counts = d->counts;
    for (uint32_t r = 0; r < n_rows; r++) {
        const int16_t *row = read_row(d, (uint16_t)r);
        for (uint32_t c = 0; c < n_cols; c++) {
            const int32_t s = row[c];
            if (s < 0) continue;
            const uint32_t v = raw[c], t = tare[s];
            counts[s] = (uint16_t)(v > t + threshold ? v - t : 0u);
        }
    }
    if (d->adc.scan_done) d->adc.scan_done(d->adc.ctx);
    if (d->cfg.n_shear) {
        if (d->adc.read_shear) d->adc.read_shear(d->adc.ctx, d->shear, d->cfg.n_shear);
        else memset(d->shear, 0, sizeof d->shear);
    }
}

static int32_t send_message(plantar_dev *d, const uint8_t *msg, size_t n) {
    const int32_t framed = plantar_frame(msg, n, d->tx, sizeof d->tx);
    if (framed < 0) return framed;
    if (d->write(d->write_ctx, d->tx, (size_t)framed) != 0) d->write_errors++;
    return framed;
}

int32_t plantar_dev_send_info(plantar_dev *d) {
    plantar_info info;
    info.device_id = d->cfg.device_id;
    info.foot = d->cfg.foot;
    info.sampling_rate_hz = d->rate_hz;
    info.n_sensels = d->cfg.n_sensels;
    info.n_shear = d->cfg.n_shear;
    info.firmware_version = d->cfg.firmware_version;
    info.layout_id = d->cfg.layout_id;
    info.calibration_id = d->cfg.calibration_id;
    uint8_t msg[PLANTAR_INFO_BYTES];
    const int32_t n = plantar_encode_info(&info, msg);
    if (n < 0) return n;
    return send_message(d, msg, (size_t)n);
}

int32_t plantar_dev_sample(plantar_dev *d, uint64_t t_device_us) {
    if (d->info_due || t_device_us >= d->next_info_us) {
        plantar_dev_send_info(d);
        d->info_due = false;
        d->next_info_us = t_device_us + INFO_PERIOD_US;
    }
    plantar_dev_scan(d);
    const int32_t n = plantar_encode_data(d->cfg.device_id, d->cfg.foot, d->seq, t_device_us,
                                          d->counts, d->cfg.n_sensels,
                                          d->cfg.n_shear ? d->shear : NULL, d->cfg.n_shear,
                                          d->cfg.encoding, d->work.msg, sizeof d->work.msg);
    d->seq++; /* counts samples taken, sent or not; wraps 0xFFFFFFFF -> 0 */
    d->samples++;
    if (n < 0) return n;
    return send_message(d, d->work.msg, (size_t)n);
}

int plantar_dev_poll(plantar_dev *d, uint64_t now_us) {
    if (!d->streaming) return 0;
    if (!d->scheduled) {
        d->scheduled = true;
        d->next_due_us = now_us;
    }
    if (now_us < d->next_due_us) return 0;
    d->next_due_us += d->period_us;
    if (now_us >= d->next_due_us) { /* late by a period or more: skip, do not burst */
        d->overruns += (uint32_t)((now_us - d->next_due_us) / d->period_us + 1u);
        d->next_due_us = now_us + d->period_us;
    }
    plantar_dev_sample(d, now_us);
    return 1;
}

static int32_t ack(plantar_dev *d, uint8_t command, uint8_t status, uint16_t argument) {
    uint8_t msg[PLANTAR_ACK_BYTES];
    plantar_encode_ack(command, status, argument, msg);
    send_message(d, msg, sizeof msg);
    return status;
}

static int32_t handle(plantar_dev *d, uint8_t command, uint16_t argument, uint64_t now_us) {
    switch (command) {
    case PLANTAR_CMD_START:
        ack(d, command, PLANTAR_ACK_OK, argument);
        if (!d->streaming) {
            d->streaming = true;
            d->scheduled = false; /* first sample at the next poll */
        }
        d->info_due = true; /* START: INFO first */
        return PLANTAR_ACK_OK;
    case PLANTAR_CMD_STOP:
        d->streaming = false;
        return ack(d, command, PLANTAR_ACK_OK, argument);
    case PLANTAR_CMD_SET_RATE: {
        uint16_t rate = argument;
        if (rate < d->cfg.min_rate_hz) rate = d->cfg.min_rate_hz;
        if (rate > d->cfg.max_rate_hz) rate = d->cfg.max_rate_hz;
        d->rate_hz = rate;
        d->period_us = period_for(rate);
        if (d->scheduled) d->next_due_us = now_us + d->period_us;
        d->info_due = true;
        return ack(d, command, PLANTAR_ACK_OK, rate);
    }
    case PLANTAR_CMD_REQUEST_INFO:
        ack(d, command, PLANTAR_ACK_OK, argument);
        plantar_dev_send_info(d);
        return PLANTAR_ACK_OK;
    default:
        return ack(d, command, PLANTAR_ACK_UNKNOWN_COMMAND, argument);
    }
}

int32_t plantar_dev_control(plantar_dev *d, const uint8_t *msg, size_t n, uint64_t now_us) {
    uint8_t command;
    uint16_t argument;
    const int32_t err = plantar_decode_control(msg, n, &command, &argument);
    if (err) return err;
    return handle(d, command, argument, now_us);
}

void plantar_dev_rx(plantar_dev *d, const uint8_t *bytes, size_t n, uint64_t now_us) {
    for (size_t i = 0; i < n; i++) {
        uint8_t command;
        uint16_t argument;
        if (plantar_rx_byte(&d->rx, bytes[i], &command, &argument)) {
            handle(d, command, argument, now_us);
        }
    }
}

uint16_t plantar_dev_rate_hz(const plantar_dev *d) { return d->rate_hz; }

bool plantar_dev_streaming(const plantar_dev *d) { return d->streaming; }
