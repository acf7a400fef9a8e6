/* recv_email.c — e-mail over SMTP with libcurl: STARTTLS (required unless
 * starttls: false), a multipart/alternative body (plain text and HTML), and
 * a Message-ID made from the delivery's idempotency key.  An SMTP 5xx
 * answer (a refused sender or recipient) or a failed login is permanent;
 * anything else is retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recv.h"

/* Appends HTML-escaped s to buf at *off. */
static void
html_put(char *buf, size_t len, size_t *off, const char *s)
{
	for (; s != NULL && *s != '\0' && *off + 8 < len; s++) {
		const char *e = NULL;
		switch (*s) {
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '&': e = "&amp;"; break;
		case '"': e = "&quot;"; break;
		default: break;
		}
		if (e != NULL) {
			*off += (size_t)snprintf(buf + *off, len - *off, "%s", e);
		} else {
			buf[(*off)++] = *s;
		}
	}
	buf[*off < len ? *off : len - 1] = '\0';
}

static void
html_row(char *buf, size_t len, size_t *off, const char *k, const char *v)
{
	*off += (size_t)snprintf(buf + *off, len - *off, "<tr><th align=\"left\">%s</th><td>", k);
	html_put(buf, len, off, v);
	if (*off + 12 < len) {
		*off += (size_t)snprintf(buf + *off, len - *off, "</td></tr>");
	}
}

static void
email_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	enum {
		TEXT = 16384
	};
	CURL *c;
	curl_mime *mime = NULL, *alt = NULL;
	curl_mimepart *part;
	struct curl_slist *rcpt = NULL, *hdrs = NULL, *slhdr = NULL;
	char *text = NULL, *html = NULL, hbuf[600], title[400], subject[500];
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t to = 0, ho = 0;
	long code = 0;
	CURLcode cc;

	if (m->is_status) {
		res->outcome = NT_SKIP;
		return;
	}
	if ((text = malloc(TEXT)) == NULL || (html = malloc(TEXT)) == NULL) {
		recv_json_failed(res, "out of memory");
		goto out;
	}
	msg_title(&m->alerts[0], title, sizeof(title));
	if (m->n > 1) {
		snprintf(subject, sizeof(subject), "tfdrift: %s%zu drifts: %s",
		    m->is_repeat ? "still open: " : "", m->n, title);
	} else {
		snprintf(subject, sizeof(subject), "tfdrift: %s%s",
		    m->is_repeat ? "still open: " : "", title);
	}
	ho = (size_t)snprintf(html, TEXT, "<html><body>");
	text[0] = '\0';
	for (size_t i = 0; i < m->n && to + 1024 < TEXT && ho + 2048 < TEXT; i++) {
		const nt_alert *a = &m->alerts[i];
		char change[400], link[512], t[400];
		msg_title(a, t, sizeof(t));
		msg_change_text(a, change, sizeof(change));
		msg_link(m, a, link, sizeof(link));
		to += (size_t)snprintf(text + to, TEXT - to,
		    "%s\r\n  Change: %s\r\n  Who: %s\r\n  When: %s\r\n  Fix: %s\r\n  %s\r\n\r\n", t,
		    change, a->principal, a->event_time, a->fix, link);
		ho += (size_t)snprintf(html + ho, TEXT - ho, "<h3 style=\"color:%s\">",
		    msg_colour(a->severity));
		html_put(html, TEXT, &ho, t);
		ho += (size_t)snprintf(html + ho, TEXT - ho, "</h3><table>");
		html_row(html, TEXT, &ho, "Change", change);
		html_row(html, TEXT, &ho, "Who", a->principal);
		html_row(html, TEXT, &ho, "When", a->event_time);
		html_row(html, TEXT, &ho, "Recommended fix", a->fix);
		ho += (size_t)snprintf(html + ho, TEXT - ho, "</table><p><a href=\"");
		html_put(html, TEXT, &ho, link);
		ho += (size_t)snprintf(html + ho, TEXT - ho, "\">Open in tfdrift</a></p>");
	}
	if (ho + 20 < TEXT) {
		snprintf(html + ho, TEXT - ho, "</body></html>");
	}
	c = http_curl(h);
	mime = curl_mime_init(c);
	alt = curl_mime_init(c);
	part = curl_mime_addpart(alt);
	curl_mime_data(part, text, CURL_ZERO_TERMINATED);
	curl_mime_type(part, "text/plain; charset=utf-8");
	part = curl_mime_addpart(alt);
	curl_mime_data(part, html, CURL_ZERO_TERMINATED);
	curl_mime_type(part, "text/html; charset=utf-8");
	part = curl_mime_addpart(mime);
	curl_mime_subparts(part, alt);
	alt = NULL; /* owned by mime now */
	curl_mime_type(part, "multipart/alternative");
	slhdr = curl_slist_append(NULL, "Content-Disposition: inline");
	curl_mime_headers(part, slhdr, 1);
	slhdr = NULL;

	snprintf(hbuf, sizeof(hbuf), "Subject: %s", subject);
	hdrs = curl_slist_append(hdrs, hbuf);
	snprintf(hbuf, sizeof(hbuf), "From: %s", m->rcv->from);
	hdrs = curl_slist_append(hdrs, hbuf);
	for (size_t i = 0; i < m->rcv->nto; i++) {
		snprintf(hbuf, sizeof(hbuf), "To: %s", m->rcv->to[i]);
		hdrs = curl_slist_append(hdrs, hbuf);
		rcpt = curl_slist_append(rcpt, m->rcv->to[i]);
	}
	snprintf(hbuf, sizeof(hbuf), "Message-ID: <%s@tfdrift>", m->idem);
	hdrs = curl_slist_append(hdrs, hbuf);
	curl_easy_setopt(c, CURLOPT_URL, m->rcv->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL,
	    (long)(m->rcv->starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->rcv->from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)http_timeout_ms(h));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (m->rcv->username != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, m->rcv->username);
	}
	if (m->rcv->secret != NULL) {
		curl_easy_setopt(c, CURLOPT_PASSWORD, m->rcv->secret);
	}
	if (m->rcv->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, m->rcv->ca_file);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	res->http_status = (int)code;
	if (cc == CURLE_OK) {
		res->outcome = NT_SENT;
		snprintf(res->message_id, sizeof(res->message_id), "<%s@tfdrift>", m->idem);
		snprintf(res->answer, sizeof(res->answer), "SMTP %ld", code);
	} else {
		char red[160];
		http_redact(m->rcv->url, red, sizeof(red));
		res->outcome = code >= 500 || cc == CURLE_LOGIN_DENIED || cc == CURLE_USE_SSL_FAILED
		    ? NT_PERMANENT
		    : NT_RETRY;
		snprintf(res->error, sizeof(res->error), "%s: %s (SMTP %ld)", red,
		    curl_easy_strerror(cc), code);
		snprintf(res->answer, sizeof(res->answer), "%s", res->error);
	}
	/* the handle must not keep pointers into what is freed below */
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
out:
	curl_mime_free(alt);
	curl_mime_free(mime);
	curl_slist_free_all(slhdr);
	curl_slist_free_all(rcpt);
	curl_slist_free_all(hdrs);
	free(text);
	free(html);
}

const recv_ops recv_email_ops = {
	.type = RT_EMAIL,
	.name = "email",
	.on_status = false,
	.send = email_send,
};
