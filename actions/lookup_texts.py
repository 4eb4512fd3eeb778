"""Status words for the answers with a customer's own records, per conversation language.

The sentences around them are responses in data/responses/lookups.yml; these are the values the
platform's contract defines for an order's, a refund's and an invoice's status
(docs/platform-api.yaml), in the words a customer reads. Listed for review by fluent speakers
in locales/review.yml (`lookup_status_words`).
"""

from typing import Dict, Optional, Text

ORDER_STATUSES = ("processing", "shipped", "out_for_delivery", "delivered", "cancelled")
REFUND_STATUSES = ("requested", "approved", "paid", "rejected")
# An invoice's "paid" reads differently from a refund's ("invoice_paid"); "issued" stands for an
# invoice whose platform gives no status.
INVOICE_STATUSES = ("open", "paid", "overdue", "void", "issued")

STATUS_WORDS: Dict[Text, Dict[Text, Text]] = {
    "en": {
        "processing": "being prepared",
        "shipped": "shipped",
        "out_for_delivery": "out for delivery",
        "delivered": "delivered",
        "cancelled": "cancelled",
        "requested": "requested, not yet approved",
        "approved": "approved, on its way to you",
        "paid": "paid out",
        "rejected": "not approved",
        "open": "not paid yet",
        "overdue": "overdue",
        "void": "cancelled",
        "issued": "issued",
        "invoice_paid": "paid",
        "date_unknown": "not known yet",
    },
    "es": {
        "processing": "en preparación",
        "shipped": "enviado",
        "out_for_delivery": "en reparto",
        "delivered": "entregado",
        "cancelled": "cancelado",
        "requested": "solicitado, aún sin aprobar",
        "approved": "aprobado, en camino",
        "paid": "pagado",
        "rejected": "no aprobado",
        "open": "pendiente de pago",
        "overdue": "vencida",
        "void": "anulada",
        "issued": "emitida",
        "invoice_paid": "pagada",
        "date_unknown": "aún sin fecha",
    },
    "fr": {
        "processing": "en préparation",
        "shipped": "expédiée",
        "out_for_delivery": "en cours de livraison",
        "delivered": "livrée",
        "cancelled": "annulée",
        "requested": "demandé, pas encore approuvé",
        "approved": "approuvé, en route vers vous",
        "paid": "versé",
        "rejected": "refusé",
        "open": "pas encore payée",
        "overdue": "en retard de paiement",
        "void": "annulée",
        "issued": "émise",
        "invoice_paid": "payée",
        "date_unknown": "pas encore connue",
    },
    "ht": {
        "processing": "y ap prepare l",
        "shipped": "yo voye l",
        "out_for_delivery": "l ap vin livre jodi a",
        "delivered": "yo livre l",
        "cancelled": "yo anile l",
        "requested": "yo mande l, li poko apwouve",
        "approved": "li apwouve, l ap vini",
        "paid": "yo peye l",
        "rejected": "li pa apwouve",
        "open": "poko peye",
        "overdue": "an reta",
        "void": "anile",
        "issued": "bay",
        "invoice_paid": "peye",
        "date_unknown": "nou poko konnen",
    },
    "nl": {
        "processing": "in behandeling",
        "shipped": "verzonden",
        "out_for_delivery": "onderweg voor bezorging",
        "delivered": "bezorgd",
        "cancelled": "geannuleerd",
        "requested": "aangevraagd, nog niet goedgekeurd",
        "approved": "goedgekeurd, onderweg naar u",
        "paid": "uitbetaald",
        "rejected": "niet goedgekeurd",
        "open": "nog niet betaald",
        "overdue": "te laat",
        "void": "geannuleerd",
        "issued": "uitgegeven",
        "invoice_paid": "betaald",
        "date_unknown": "nog niet bekend",
    },
}


def status_word(status: Text, language: Optional[Text]) -> Text:
    """The status in the conversation's language; a status the contract does not list (a newer
    platform) is shown as the platform names it rather than dropped."""
    words = STATUS_WORDS.get(language or "en", STATUS_WORDS["en"])
    return words.get(status, status.replace("_", " "))


def invoice_status_word(status: Optional[Text], language: Optional[Text]) -> Text:
    if status is None:
        return status_word("issued", language)
    return status_word("invoice_paid" if status == "paid" else status, language)


def date_or_unknown(date: Optional[Text], language: Optional[Text]) -> Text:
    return date or status_word("date_unknown", language)
