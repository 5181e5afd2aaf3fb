"""Customer-facing wording for the ABCD procedures (written for Assist).

The guidelines tell an agent what to do; these phrases turn a procedure into words an
agent can send: the topic in the customer's terms, and what we need from them per action.
"""

from __future__ import annotations

FLOW_TOPICS = {
    "Product Defect": "your refund or return",
    "Order Issue": "your order",
    "Account Access": "getting back into your account",
    "Troubleshoot Site": "the problem you're having on our website",
    "Manage Account": "the changes to your account",
    "Purchase Dispute": "the problem with your purchase",
    "Shipping Issue": "your shipment",
    "Subscription Inquiry": "your premium subscription",
    "Single-Item Query": "your question about the item",
    "Storewide Query": "your question",
}

SUBFLOW_TOPICS = {
    "Initiate Refund": "a refund for your order",
    "Update Refund": "adding an item to your existing refund",
    "Refund Status": "checking the status of your refund",
    "Return Due to Stain": "returning the stained item",
    "Return Due to Color": "returning the item for a different colour",
    "Return Due to Size": "returning the item for a different size",
    "Status Mystery Fee": "the unexpected charge on your order",
    "Status Delivery Time": "changing the delivery time of your order",
    "Status Payment Method": "the payment method on your order",
    "Status Quantity": "the wrong quantity on your order",
    "Manage Upgrade": "upgrading your order to overnight shipping",
    "Manage Downgrade": "switching your order to a cheaper, slower delivery",
    "Manage Create": "adding an item to your existing order",
    "Manage Cancel": "cancelling the extra item you ordered by mistake",
    "Recover Username": "recovering your username",
    "Recover Password": "resetting your password",
    "Reset Two-Factor Auth": "resetting your two-factor authentication",
    "Invalid Credit Card": "your card being declined at checkout",
    "Cart Not Updating": "your shopping cart not updating",
    "Search Not Working": "the search not returning results",
    "Website Too Slow": "the website being slow",
    "Status Service Added": "a service that was added to your account without your asking",
    "Status Service Removed": "a service that was removed from your plan",
    "Status Shipping Question": "whether your account includes free international shipping",
    "Status Credit Missing": "the credit missing from your account",
    "Manage Change Address": "updating the address on your account",
    "Manage Change Name": "updating the name on your account",
    "Manage Change Phone": "updating the phone number on your account",
    "Manage Payment Method": "updating the payment method on your account",
    "Bad Price Competitor": "matching the lower price you found elsewhere",
    "Bad Price Yesterday": "the price that dropped since you bought",
    "Out-of-Stock General": "the items that are out of stock",
    "Out-of-Stock One Item": "the item that is out of stock",
    "Promo Code Invalid": "the promo code that isn't working",
    "Promo Code Out of Date": "the promo code that has expired",
    "Mistimed Billing Already Returned": "the credit for the item you already returned",
    "Mistimed Billing Never Bought": "a charge for something you never bought",
    "Shipping Status": "checking where your package is",
    "Manage Shipping": "changing the shipping details of your order",
    "Missing Item": "the item that never arrived",
    "Shipping Cost": "the shipping fee on your order",
    "Status Active": "checking that your subscription is active",
    "Status Due Amount": "the amount due on your subscription",
    "Status Due Date": "your subscription's renewal date",
    "Manage Pay Bill": "paying your subscription bill",
    "Manage Extension": "an extension on your subscription payment",
    "Manage Dispute Bill": "the incorrect charge on your subscription bill",
    "Boots FAQ": "your question about our boots",
    "Shirt FAQ": "your question about our shirts",
    "Jeans FAQ": "your question about our jeans",
    "Jacket FAQ": "your question about our jackets",
    "Pricing FAQ": "your question about pricing",
    "Membership FAQ": "your question about membership",
    "Timing FAQ": "your question about delivery times",
    "Policy FAQ": "your question about our policies",
}

# What the agent asks the customer for when a procedure uses this action.
ACTION_ASKS = {
    "Pull up Account": "your full name or account ID",
    "Verify Identity": "the email address on the account",
    "Validate Purchase": "your order ID",
}

# Entries that are not procedures: the moments every conversation has (written for Assist).
GENERAL_ENTRIES = [
    {
        "id": "assist/general/thanks-closing",
        "title": "Customer is satisfied / says thanks",
        "category": "Conversation (closing)",
        "summary": "The customer thanks the agent, is happy with the outcome, or says goodbye. Thank you so much, "
                   "that's great, perfect, awesome, that solved it.",
        "steps": ("Confirm the issue is resolved.", "Ask whether anything else is needed.", "Close warmly."),
        "reply": "You're very welcome, I'm glad I could help! Is there anything else I can do for you today?",
    },
    {
        "id": "assist/general/offer-supervisor",
        "title": "Customer asks for a manager or threatens to leave",
        "category": "Conversation (escalation)",
        "summary": "The customer is very upset, asks for a manager, supervisor or real person, threatens to cancel, "
                   "complain publicly or take legal action.",
        "steps": ("Acknowledge the frustration without arguing.", "Summarise what you will do and by when.",
                  "Offer a supervisor if the customer still wants one."),
        "reply": "I hear you, and I want to get this fixed for you today. Here is what I'm doing right now; if you'd "
                 "still prefer, I can also bring in my supervisor. Would you like me to do that?",
    },
    {
        "id": "assist/general/greeting-clarify",
        "title": "Greeting / unclear request",
        "category": "Conversation (opening)",
        "summary": "The customer says hello or hi, or writes something too short or unclear to act on.",
        "steps": ("Greet the customer.", "Ask an open question about what they need."),
        "reply": "Hi, thanks for reaching out! What can I help you with today?",
    },
]
