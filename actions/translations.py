"""The clarifying question's words per language: topic names and the question around them.

`action_default_ask_affirmation` asks "Is your question about {topic}?" (or about two topics)
with buttons; these are its words in each language the gateway may set in the `language` slot.
Each topic title fills the question in the same grammatical role as the English one in
`actions/topics.py`, and is capitalised as a button title. Like the answers, they are to be
reviewed by fluent speakers: `locales/review.yml` lists what has not been checked yet (here
under `clarifying_question`).
"""

from typing import Dict

# language -> intent -> customer-facing topic name (same keys as actions.topics.TOPIC_TITLES).
TOPIC_TITLES: Dict[str, Dict[str, str]] = {
    "es": {
        "create_account": "abrir una cuenta",
        "edit_account": "cambiar los datos de su cuenta",
        "delete_account": "cerrar su cuenta",
        "recover_password": "restablecer su contraseña",
        "registration_problems": "problemas para registrarse",
        "switch_account": "cambiar su plan o perfil",
        "place_order": "hacer un pedido",
        "cancel_order": "cancelar un pedido",
        "change_order": "modificar un pedido",
        "track_order": "rastrear un pedido",
        "delivery_options": "las opciones de entrega",
        "delivery_period": "cuánto tarda la entrega",
        "change_shipping_address": "cambiar la dirección de entrega de un pedido",
        "set_up_shipping_address": "guardar una dirección de envío",
        "check_cancellation_fee": "el cargo por cancelación",
        "check_payment_methods": "las formas de pago",
        "payment_issue": "un pago que no se completó",
        "check_invoice": "revisar una factura",
        "get_invoice": "obtener una copia de una factura",
        "check_refund_policy": "la política de reembolsos",
        "get_refund": "pedir un reembolso",
        "track_refund": "el estado de un reembolso",
        "contact_customer_service": "cómo comunicarse con el servicio al cliente",
        "contact_human_agent": "hablar con una persona",
        "complaint": "presentar una queja",
        "review": "dejar su opinión",
        "newsletter_subscription": "el boletín de noticias",
        "payment_dispute": "un cargo que no reconoce",
        "account_compromised": "el uso de su cuenta por otra persona",
    },
    "fr": {
        "create_account": "l'ouverture d'un compte",
        "edit_account": "la modification des informations de votre compte",
        "delete_account": "la fermeture de votre compte",
        "recover_password": "la réinitialisation de votre mot de passe",
        "registration_problems": "un problème d'inscription",
        "switch_account": "le changement de formule ou de profil",
        "place_order": "la façon de passer une commande",
        "cancel_order": "l'annulation d'une commande",
        "change_order": "la modification d'une commande",
        "track_order": "le suivi d'une commande",
        "delivery_options": "les options de livraison",
        "delivery_period": "le délai de livraison",
        "change_shipping_address": "le changement de l'adresse de livraison d'une commande",
        "set_up_shipping_address": "l'enregistrement d'une adresse de livraison",
        "check_cancellation_fee": "les frais d'annulation",
        "check_payment_methods": "les moyens de paiement",
        "payment_issue": "un paiement qui n'est pas passé",
        "check_invoice": "la vérification d'une facture",
        "get_invoice": "l'obtention d'une copie de facture",
        "check_refund_policy": "la politique de remboursement",
        "get_refund": "une demande de remboursement",
        "track_refund": "l'état d'un remboursement",
        "contact_customer_service": "les moyens de joindre le service client",
        "contact_human_agent": "la possibilité de parler à une personne",
        "complaint": "une réclamation",
        "review": "le dépôt d'un avis",
        "newsletter_subscription": "la newsletter",
        "payment_dispute": "un débit que vous ne reconnaissez pas",
        "account_compromised": "l'utilisation de votre compte par quelqu'un d'autre",
    },
    "ht": {
        "create_account": "louvri yon kont",
        "edit_account": "chanje enfòmasyon kont ou",
        "delete_account": "fèmen kont ou",
        "recover_password": "jwenn yon nouvo modpas",
        "registration_problems": "pwoblèm pou enskri",
        "switch_account": "chanje plan oswa pwofil ou",
        "place_order": "pase yon kòmand",
        "cancel_order": "anile yon kòmand",
        "change_order": "chanje yon kòmand",
        "track_order": "swiv yon kòmand",
        "delivery_options": "opsyon livrezon yo",
        "delivery_period": "konbyen tan livrezon an pran",
        "change_shipping_address": "chanje adrès livrezon yon kòmand",
        "set_up_shipping_address": "anrejistre yon adrès livrezon",
        "check_cancellation_fee": "frè anilasyon an",
        "check_payment_methods": "fason pou peye",
        "payment_issue": "yon peman ki pa pase",
        "check_invoice": "verifye yon fakti",
        "get_invoice": "jwenn kopi yon fakti",
        "check_refund_policy": "politik ranbousman an",
        "get_refund": "mande yon ranbousman",
        "track_refund": "kote yon ranbousman rive",
        "contact_customer_service": "kijan pou kontakte sèvis kliyan",
        "contact_human_agent": "pale ak yon moun",
        "complaint": "fè yon plent",
        "review": "bay opinyon ou",
        "newsletter_subscription": "bilten nouvèl la",
        "payment_dispute": "yon tranzaksyon ou pa rekonèt",
        "account_compromised": "yon lòt moun k ap itilize kont ou",
    },
    "nl": {
        "create_account": "het openen van een account",
        "edit_account": "het wijzigen van uw accountgegevens",
        "delete_account": "het opheffen van uw account",
        "recover_password": "het opnieuw instellen van uw wachtwoord",
        "registration_problems": "problemen met aanmelden",
        "switch_account": "het wijzigen van uw abonnement of profiel",
        "place_order": "het plaatsen van een bestelling",
        "cancel_order": "het annuleren van een bestelling",
        "change_order": "het wijzigen van een bestelling",
        "track_order": "het volgen van een bestelling",
        "delivery_options": "de bezorgopties",
        "delivery_period": "hoe lang de bezorging duurt",
        "change_shipping_address": "het wijzigen van het bezorgadres van een bestelling",
        "set_up_shipping_address": "het opslaan van een verzendadres",
        "check_cancellation_fee": "de annuleringskosten",
        "check_payment_methods": "de betaalmethoden",
        "payment_issue": "een betaling die niet is gelukt",
        "check_invoice": "het controleren van een factuur",
        "get_invoice": "het opvragen van een kopie van een factuur",
        "check_refund_policy": "het terugbetalingsbeleid",
        "get_refund": "het aanvragen van een terugbetaling",
        "track_refund": "de status van een terugbetaling",
        "contact_customer_service": "hoe u de klantenservice bereikt",
        "contact_human_agent": "contact met een medewerker",
        "complaint": "het indienen van een klacht",
        "review": "het geven van feedback",
        "newsletter_subscription": "de nieuwsbrief",
        "payment_dispute": "een afschrijving die u niet herkent",
        "account_compromised": "iemand anders die uw account gebruikt",
    },
}

# language -> the question with one topic ({topic}) or two ({first}, {second}), and the buttons.
CLARIFY: Dict[str, Dict[str, str]] = {
    "en": {
        "one": "Sorry, I want to be sure I understood. Is your question about {topic}?",
        "two": (
            "Sorry, I want to be sure I understood. Is your question about {first}, or {second}?"
        ),
        "yes": "Yes",
        "no": "No",
        "something_else": "Something else",
    },
    "es": {
        "one": (
            "Disculpe, quiero asegurarme de haberle entendido bien. ¿Su pregunta es sobre {topic}?"
        ),
        "two": (
            "Disculpe, quiero asegurarme de haberle entendido bien. "
            "¿Su pregunta es sobre {first} o sobre {second}?"
        ),
        "yes": "Sí",
        "no": "No",
        "something_else": "Otra cosa",
    },
    "fr": {
        "one": (
            "Excusez-moi, je veux être sûr d'avoir bien compris. "
            "Votre question porte-t-elle sur {topic} ?"
        ),
        "two": (
            "Excusez-moi, je veux être sûr d'avoir bien compris. "
            "Votre question porte-t-elle sur {first} ou sur {second} ?"
        ),
        "yes": "Oui",
        "no": "Non",
        "something_else": "Autre chose",
    },
    "ht": {
        "one": "Eskize m, mwen vle asire m mwen byen konprann. Èske kesyon ou a se sou {topic}?",
        "two": (
            "Eskize m, mwen vle asire m mwen byen konprann. "
            "Èske kesyon ou a se sou {first}, oswa sou {second}?"
        ),
        "yes": "Wi",
        "no": "Non",
        "something_else": "Yon lòt bagay",
    },
    "nl": {
        "one": "Sorry, ik wil zeker weten dat ik u goed begrijp. Gaat uw vraag over {topic}?",
        "two": (
            "Sorry, ik wil zeker weten dat ik u goed begrijp. "
            "Gaat uw vraag over {first}, of over {second}?"
        ),
        "yes": "Ja",
        "no": "Nee",
        "something_else": "Iets anders",
    },
}
